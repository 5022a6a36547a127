package dev.salient.tools.evaluation;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.GeoSal;
import dev.salient.server.method.MethodHarness;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The evaluation on the 100 held-out Fashion-MNIST samples (the defaults were tuned on
 * training images): GeoSal, FGSM and BIM with default parameters, each targeted at the image's
 * second-ranked class.
 */
@Tag("evaluation")
class AdversarialHeldOutTest {
  private static final Logger LOG = LoggerFactory.getLogger(AdversarialHeldOutTest.class);

  static InferenceEngine engine;
  static AdversarialComparison.Report report;

  @BeforeAll
  static void runAll() {
    ModelPackage model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    engine = InferenceEngine.load("cpu", List.of(model));
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < TestImages.count(); i++) {
      images.add(TestImages.sample(i));
    }
    report = AdversarialComparison.run(new MethodHarness(engine, model), images, true);
    LOG.info("held-out samples: {}", report.summary());
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void geosalFlipsAtLeast95PercentOfTheSamplesToTheirRunnerUp() {
    assertTrue(report.geosal().size() >= 100, "samples " + report.geosal().size());
    assertTrue(report.geosalFlipShare() >= 0.95, report.summary());
  }

  @Test
  void geosalMedianL2IsAtMost70PercentOfTheSmallestFlippingFgsm() {
    assertTrue(report.bothFlipped(report.fgsm()) >= 50, report.summary());
    assertTrue(report.medianRatio(report.fgsm()) <= 0.7, report.summary());
  }

  @Test
  void geosalMedianL2IsBelowBim() {
    assertTrue(report.bothFlipped(report.bim()) >= 50, report.summary());
    assertTrue(report.medianRatio(report.bim()) < 1.0, report.summary());
  }

  @Test
  void everyReturnedPixelOfEveryMethodIsInThePixelRange() {
    assertTrue(Stream.of(report.geosal(), report.fgsm(), report.bim()).flatMap(List::stream)
        .allMatch(AdversarialComparison.Outcome::inRange));
  }
}
