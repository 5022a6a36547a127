package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The weighted ridge fit LIME uses (scikit-learn's Ridge with sample weights). */
class WeightedRidgeTest {

  @Test
  void noiselessLinearDataIsRecoveredExactlyWithRSquaredOne() {
    Random random = new Random(5);
    double[] truth = {0.3, -0.2, 0.05, 0, 0.7};
    WeightedRidge ridge = new WeightedRidge(truth.length);
    for (int i = 0; i < 200; i++) {
      double[] x = new double[truth.length];
      double y = 0.1;
      for (int j = 0; j < x.length; j++) {
        x[j] = random.nextInt(2);
        y += truth[j] * x[j];
      }
      ridge.add(x, y, 0.1 + random.nextDouble());
    }

    WeightedRidge.Fit fit = ridge.fit(0);

    for (int j = 0; j < truth.length; j++) {
      assertEquals(truth[j], fit.coefficients()[j], 1e-9, "coefficient " + j);
    }
    assertEquals(0.1, fit.intercept(), 1e-9);
    assertEquals(1.0, fit.r2(), 1e-9);
  }

  @Test
  void oneFeatureMatchesTheClosedForm() {
    // b = S_xy / (S_xx + lambda) on weighted-centred data, a = ybar - b xbar,
    // R² = 1 - SSres / SStot.
    double[] x = {0, 1, 1, 0, 1};
    double[] y = {0.2, 0.9, 0.7, 0.1, 0.5};
    double[] w = {1, 0.5, 2, 1, 0.25};
    double lambda = 0.3;
    WeightedRidge ridge = new WeightedRidge(1);
    double sw = 0;
    double sx = 0;
    double sy = 0;
    for (int i = 0; i < x.length; i++) {
      ridge.add(new double[] {x[i]}, y[i], w[i]);
      sw += w[i];
      sx += w[i] * x[i];
      sy += w[i] * y[i];
    }
    double xbar = sx / sw;
    double ybar = sy / sw;
    double sxx = 0;
    double sxy = 0;
    for (int i = 0; i < x.length; i++) {
      sxx += w[i] * (x[i] - xbar) * (x[i] - xbar);
      sxy += w[i] * (x[i] - xbar) * (y[i] - ybar);
    }
    double b = sxy / (sxx + lambda);
    double a = ybar - b * xbar;
    double residual = 0;
    double total = 0;
    for (int i = 0; i < x.length; i++) {
      residual += w[i] * Math.pow(y[i] - a - b * x[i], 2);
      total += w[i] * Math.pow(y[i] - ybar, 2);
    }

    WeightedRidge.Fit fit = ridge.fit(lambda);

    assertEquals(b, fit.coefficients()[0], 1e-12);
    assertEquals(a, fit.intercept(), 1e-12);
    assertEquals(1 - residual / total, fit.r2(), 1e-12);
  }

  @Test
  void aFeatureThatNeverVariesGetsWeightZero() {
    WeightedRidge ridge = new WeightedRidge(2);
    ridge.add(new double[] {1, 0}, 0.5, 1);
    ridge.add(new double[] {1, 1}, 0.8, 1);
    ridge.add(new double[] {1, 1}, 0.8, 1);

    WeightedRidge.Fit fit = ridge.fit(0);

    assertEquals(0, fit.coefficients()[0], 1e-9);
    assertEquals(0.3, fit.coefficients()[1], 1e-6);
  }
}
