package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A two-class black box whose probability of class 0 is affine in the pixels, {@code p = b + w.x}
 * (logits {@code [ln p, ln(1 - p)]}), so that a black-box method's answer is known: with a black
 * fill (0) a region's contribution is exactly {@code sum of w_i x_i} over its pixels. Forward
 * passes only; every row is computed on its own, so batching changes nothing.
 */
final class LinearProbabilityEngine implements PassEngine {
  final double[] weights;
  final double bias;
  final ModelPackage model;

  /** Inputs are 1 x h x w in [0, 1]; {@code b + w.x} must stay in (0, 1) on them. */
  LinearProbabilityEngine(double[] weights, double bias, int h, int w) {
    this.weights = weights;
    this.bias = bias;
    InputSpec spec = new InputSpec(1, h, w, 0f, 1f, new float[] {0f}, new float[] {1f});
    this.model = new ModelPackage("linear-probability", "p = b + w.x",
        ModelPackage.Format.BUILTIN, "linear", "none", List.of("class0", "class1"), spec, null,
        Map.of(), new ModelPackage.DirectoryLocation(Path.of(".")));
  }

  /** {@code b + w.x}. */
  double probability(float[] x) {
    double p = bias;
    for (int i = 0; i < x.length; i++) {
      p += weights[i] * x[i];
    }
    return p;
  }

  @Override
  public PassResult run(String modelName, Pass pass) {
    List<float[]> logits = new ArrayList<>();
    List<float[]> gradients = new ArrayList<>();
    for (float[] x : pass.images()) {
      double p = probability(x);
      if (!(p > 0 && p < 1)) {
        throw new IllegalStateException("p = " + p + " left (0, 1)");
      }
      logits.add(new float[] {(float) Math.log(p), (float) Math.log(1 - p)});
      // The job's first pass asks for a gradient: the logit ln p's is w / p.
      float[] g = new float[x.length];
      for (int i = 0; i < x.length; i++) {
        g[i] = (float) (weights[i] / p);
      }
      gradients.add(g);
    }
    return new PassResult(logits, pass.objective() == null ? null : gradients);
  }

  @Override
  public void close() {}
}
