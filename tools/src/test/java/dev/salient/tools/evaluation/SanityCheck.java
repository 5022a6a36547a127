package dev.salient.tools.evaluation;

import dev.salient.server.method.ActiveInactiveSaliency;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.GradCam;
import dev.salient.server.method.IntegratedGradients;
import dev.salient.server.method.SignedSaliency;
import dev.salient.server.method.SmoothGrad;
import dev.salient.server.method.VanillaGradient;
import java.util.List;
import java.util.Map;

/**
 * The model-randomisation sanity check (Adebayo et al. 2018) as data: which maps of which
 * method are compared between the trained default model and the same architecture with random
 * weights.
 */
final class SanityCheck {
  /** Seed of the random weights. */
  static final int SEED = 20181;

  /** A method, its parameters and the maps compared. */
  record Case(ExplanationMethod method, Map<String, String> parameters, List<String> maps) {
    @Override
    public String toString() {
      return method.name();
    }
  }

  static final List<Case> CASES = List.of(
      new Case(new VanillaGradient(), Map.of(), List.of("saliency")),
      new Case(new SignedSaliency(), Map.of(), List.of("positive", "negative", "signed")),
      new Case(new ActiveInactiveSaliency(), Map.of(),
          List.of("active", "inactive", "active_minus_inactive")),
      new Case(new SmoothGrad(), Map.of(),
          List.of("smoothgrad", "smoothgrad_squared", "vargrad")),
      new Case(new IntegratedGradients(), Map.of(), List.of("attribution")),
      new Case(new GradCam(), Map.of(), List.of("gradcam")));

  private SanityCheck() {}
}
