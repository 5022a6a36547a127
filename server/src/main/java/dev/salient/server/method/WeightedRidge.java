package dev.salient.server.method;

/**
 * Weighted ridge regression with an unpenalised intercept, in closed form, as LIME fits its
 * surrogate (scikit-learn's {@code Ridge(alpha)} with sample weights): minimise {@code sum_i w_i
 * (y_i - a - b.x_i)^2 + lambda |b|^2}. Samples are added one at a time into weighted sums (so a
 * running fit costs no pass over the samples); a fit centres them on their weighted means and
 * solves the d x d system {@code (Xc' W Xc + lambda I) b = Xc' W yc} by Cholesky, in double.
 */
final class WeightedRidge {
  /**
   * The least penalty, relative to the diagonal's mean, so that a feature that never varied gets
   * weight 0 rather than a singular system when lambda is 0.
   */
  static final double FLOOR = 1e-10;

  private final int d;
  private double sw;
  private final double[] swx;
  private double swy;
  private double swyy;
  private final double[] swxy;
  private final double[][] swxx;
  private int n;

  /** An empty fit of {@code features} features. */
  WeightedRidge(int features) {
    this.d = features;
    this.swx = new double[d];
    this.swxy = new double[d];
    this.swxx = new double[d][d];
  }

  /**
   * The fitted surrogate.
   *
   * @param coefficients b, one per feature
   * @param intercept a
   * @param r2 the weighted coefficient of determination on the samples (scikit-learn's score
   *     with sample weights: 1 when the targets do not vary and the fit is exact)
   */
  record Fit(double[] coefficients, double intercept, double r2) {
    /** The surrogate's prediction for {@code x}. */
    double predict(double[] x) {
      double y = intercept;
      for (int j = 0; j < x.length; j++) {
        y += coefficients[j] * x[j];
      }
      return y;
    }
  }

  /** Adds a sample {@code x} with target {@code y} and weight {@code w >= 0}. */
  void add(double[] x, double y, double w) {
    n++;
    sw += w;
    swy += w * y;
    swyy += w * y * y;
    for (int j = 0; j < d; j++) {
      if (x[j] == 0) {
        continue;
      }
      double wx = w * x[j];
      swx[j] += wx;
      swxy[j] += wx * y;
      double[] row = swxx[j];
      for (int l = 0; l < d; l++) {
        row[l] += wx * x[l];
      }
    }
  }

  /** Samples added so far. */
  int samples() {
    return n;
  }

  /** The fit on the samples so far, with penalty {@code lambda >= 0}. */
  Fit fit(double lambda) {
    if (sw <= 0) {
      return new Fit(new double[d], 0, 0);
    }
    double[] meanX = new double[d];
    for (int j = 0; j < d; j++) {
      meanX[j] = swx[j] / sw;
    }
    double meanY = swy / sw;
    double[][] a = new double[d][d];
    double[] rhs = new double[d];
    double trace = 0;
    for (int j = 0; j < d; j++) {
      for (int l = 0; l < d; l++) {
        a[j][l] = swxx[j][l] - sw * meanX[j] * meanX[l];
      }
      rhs[j] = swxy[j] - sw * meanX[j] * meanY;
      trace += a[j][j];
    }
    double floor = FLOOR * (trace > 0 ? trace / d : 1);
    for (int j = 0; j < d; j++) {
      a[j][j] += Math.max(lambda, floor);
    }
    double[] b = solveCholesky(a, rhs);
    double intercept = meanY;
    for (int j = 0; j < d; j++) {
      intercept -= b[j] * meanX[j];
    }
    // Weighted sums of squares from the accumulated moments.
    double total = swyy - sw * meanY * meanY;
    double bxy = 0;
    double bxxb = 0;
    double bx = 0;
    for (int j = 0; j < d; j++) {
      bxy += b[j] * swxy[j];
      bx += b[j] * swx[j];
      double row = 0;
      for (int l = 0; l < d; l++) {
        row += swxx[j][l] * b[l];
      }
      bxxb += b[j] * row;
    }
    double residual = swyy - 2 * intercept * swy - 2 * bxy + intercept * intercept * sw
        + 2 * intercept * bx + bxxb;
    residual = Math.max(0, residual);
    double scale = Math.max(swyy, Double.MIN_NORMAL);
    double r2;
    if (total <= 1e-12 * scale) {
      r2 = residual <= 1e-12 * scale ? 1 : 0;
    } else {
      r2 = 1 - residual / total;
    }
    return new Fit(b, intercept, r2);
  }

  /** Solves {@code a x = rhs} for symmetric positive definite {@code a} (overwritten). */
  static double[] solveCholesky(double[][] a, double[] rhs) {
    int d = rhs.length;
    for (int j = 0; j < d; j++) {
      double diagonal = a[j][j];
      for (int k = 0; k < j; k++) {
        diagonal -= a[j][k] * a[j][k];
      }
      if (!(diagonal > 0)) {
        throw new ArithmeticException("the ridge system is not positive definite");
      }
      double l = Math.sqrt(diagonal);
      a[j][j] = l;
      for (int i = j + 1; i < d; i++) {
        double s = a[i][j];
        for (int k = 0; k < j; k++) {
          s -= a[i][k] * a[j][k];
        }
        a[i][j] = s / l;
      }
    }
    double[] y = new double[d];
    for (int i = 0; i < d; i++) {
      double s = rhs[i];
      for (int k = 0; k < i; k++) {
        s -= a[i][k] * y[k];
      }
      y[i] = s / a[i][i];
    }
    double[] x = new double[d];
    for (int i = d - 1; i >= 0; i--) {
      double s = y[i];
      for (int k = i + 1; k < d; k++) {
        s -= a[k][i] * x[k];
      }
      x[i] = s / a[i][i];
    }
    return x;
  }
}
