package dev.salient.server.method;

/**
 * The shortest move {@code d} into an intersection of half-spaces {@code g_c · d <= h_c}, moving
 * only the free coordinates: {@code min ‖d‖² s.t. G d <= h, d_i = 0 where !free[i]}.
 *
 * <p>With one half-space this is the projection onto a plane, {@code d = (h / ‖g‖²) g} when the
 * point is outside; with several, the closest point of their intersection (seed 002, footnote 2:
 * "find the intersection of the two hyperplanes and find the closest point on this line"). The
 * half-spaces are one per class involved, a handful, so the solution is found exactly by trying
 * each set of active constraints S: {@code d = -G_Sᵀ λ}, {@code (G_S G_Sᵀ) λ = -h_S}, kept when
 * {@code λ >= 0} and every other constraint holds (the KKT conditions, which the unique optimum
 * meets).
 */
final class HalfspaceProjection {
  /** Beyond this many half-spaces the 2^k active sets are too many to try. */
  static final int MAX_HALFSPACES = 12;

  private HalfspaceProjection() {}

  /**
   * The move, or null when no point of the intersection is reachable through the free
   * coordinates (or there are more than {@link #MAX_HALFSPACES} half-spaces).
   */
  static double[] solve(float[][] g, double[] h, boolean[] free) {
    int k = g.length;
    if (k > MAX_HALFSPACES) {
      return null;
    }
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
    double[] best = null;
    double bestNorm = Double.POSITIVE_INFINITY;
    for (int set = 0; set < (1 << k); set++) {
      double[] lambda = multipliers(m, h, set);
      if (lambda == null) {
        continue;
      }
      // g_a · d = -(M λ)_a for every constraint a.
      boolean feasible = true;
      double norm = 0;
      for (int a = 0; a < k && feasible; a++) {
        double lhs = 0;
        for (int b = 0; b < k; b++) {
          lhs -= m[a][b] * lambda[b];
        }
        feasible = lhs <= h[a] + 1e-9 * (Math.abs(h[a]) + 1e-12);
        norm += lambda[a] * -lhs;
      }
      if (feasible && norm < bestNorm) {
        bestNorm = norm;
        best = lambda;
      }
    }
    if (best == null) {
      return null;
    }
    double[] d = new double[n];
    for (int a = 0; a < k; a++) {
      for (int i = 0; i < n; i++) {
        if (free[i]) {
          d[i] -= best[a] * g[a][i];
        }
      }
    }
    return d;
  }

  /**
   * The multipliers of the active set {@code set} (a bit per constraint), zero outside it; null
   * when its system is singular or a multiplier is negative.
   */
  private static double[] multipliers(double[][] m, double[] h, int set) {
    int k = h.length;
    int[] active = new int[Integer.bitCount(set)];
    for (int a = 0, j = 0; a < k; a++) {
      if ((set & (1 << a)) != 0) {
        active[j++] = a;
      }
    }
    int s = active.length;
    double[][] system = new double[s][s + 1];
    for (int r = 0; r < s; r++) {
      for (int c = 0; c < s; c++) {
        system[r][c] = m[active[r]][active[c]];
      }
      system[r][s] = -h[active[r]];
    }
    double[] x = GaussianElimination.solve(system);
    if (x == null) {
      return null;
    }
    double[] lambda = new double[k];
    for (int j = 0; j < s; j++) {
      if (x[j] < 0) {
        return null;
      }
      lambda[active[j]] = x[j];
    }
    return lambda;
  }

  /** Solves a small dense system with partial pivoting. */
  private static final class GaussianElimination {
    private GaussianElimination() {}

    /** The solution of {@code [A | b]} (modified in place), or null when A is singular. */
    static double[] solve(double[][] ab) {
      int n = ab.length;
      double scale = 0;
      for (double[] row : ab) {
        for (int c = 0; c < n; c++) {
          scale = Math.max(scale, Math.abs(row[c]));
        }
      }
      for (int col = 0; col < n; col++) {
        int pivot = col;
        for (int r = col + 1; r < n; r++) {
          if (Math.abs(ab[r][col]) > Math.abs(ab[pivot][col])) {
            pivot = r;
          }
        }
        if (Math.abs(ab[pivot][col]) <= 1e-12 * scale || scale == 0) {
          return null;
        }
        double[] t = ab[col];
        ab[col] = ab[pivot];
        ab[pivot] = t;
        for (int r = col + 1; r < n; r++) {
          double f = ab[r][col] / ab[col][col];
          for (int c = col; c <= n; c++) {
            ab[r][c] -= f * ab[col][c];
          }
        }
      }
      double[] x = new double[n];
      for (int r = n - 1; r >= 0; r--) {
        double v = ab[r][n];
        for (int c = r + 1; c < n; c++) {
          v -= ab[r][c] * x[c];
        }
        x[r] = v / ab[r][r];
      }
      return x;
    }
  }
}
