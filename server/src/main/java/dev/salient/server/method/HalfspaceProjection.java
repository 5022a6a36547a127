package dev.salient.server.method;

/**
 * The shortest move {@code d} into an intersection of half-spaces {@code g_c · d <= h_c}, moving
 * only the free coordinates: {@code min ‖d‖² s.t. G d <= h, d_i = 0 where !free[i]}.
 *
 * <p>With one half-space this is the projection onto a plane, {@code d = (h / ‖g‖²) g} when the
 * point is outside; with several, the closest point of their intersection (seed 002, footnote 2:
 * "find the intersection of the two hyperplanes and find the closest point"). Solved in the dual,
 * {@code d = -Gᵀλ} with {@code λ >= 0} minimising {@code ½ λᵀ G Gᵀ λ + λᵀ h}, by coordinate
 * descent: the number of half-spaces is the number of classes involved, a handful.
 */
final class HalfspaceProjection {
  private static final int MAX_SWEEPS = 10_000;

  private HalfspaceProjection() {}

  /**
   * The move, or null when the half-spaces have no common point reachable through the free
   * coordinates.
   */
  static double[] solve(float[][] g, double[] h, boolean[] free) {
    int k = g.length;
    int n = free.length;
    double[][] m = new double[k][k];
    for (int a = 0; a < k; a++) {
      for (int b = a; b < k; b++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
          if (free[i]) {
            s += (double) g[a][i] * g[b][i];
          }
        }
        m[a][b] = s;
        m[b][a] = s;
      }
    }
    double[] lambda = new double[k];
    for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      double change = 0;
      double size = 0;
      for (int a = 0; a < k; a++) {
        double gradient = h[a];
        for (int b = 0; b < k; b++) {
          gradient += m[a][b] * lambda[b];
        }
        double next;
        if (m[a][a] > 0) {
          next = Math.max(0, lambda[a] - gradient / m[a][a]);
        } else {
          next = 0;
        }
        change = Math.max(change, Math.abs(next - lambda[a]));
        lambda[a] = next;
        size = Math.max(size, next);
      }
      if (change <= 1e-14 * (1 + size)) {
        break;
      }
    }
    double[] d = new double[n];
    for (int a = 0; a < k; a++) {
      for (int i = 0; i < n; i++) {
        if (free[i]) {
          d[i] -= lambda[a] * g[a][i];
        }
      }
    }
    for (int a = 0; a < k; a++) {
      double lhs = 0;
      for (int i = 0; i < n; i++) {
        lhs += g[a][i] * d[i];
      }
      if (lhs > h[a] + 1e-6 * (Math.abs(h[a]) + 1e-9)) {
        return null;
      }
    }
    return d;
  }
}
