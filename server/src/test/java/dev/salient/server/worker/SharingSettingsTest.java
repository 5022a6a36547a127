package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Reading the {@code salient.sharing} block. */
class SharingSettingsTest {

  private static SharingSettings read(String overrides) {
    return SharingSettings.create(ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.load()).getConfig("salient"));
  }

  @Test
  void theDefaultsBoundCallsTo50MillisecondsAndGiveEveryModelAnEqualShare() {
    SharingSettings settings = read("");

    assertEquals(Duration.ofMillis(50), settings.maxCallTime());
    assertEquals(SharingSettings.ModelShare.EQUAL, settings.of("any-model"));
    assertEquals(1, settings.videoPriority());
  }

  @Test
  void aModelNamedUnderModelsTakesItsShareAndPriorityAndTheDefaultsForTheRest() {
    SharingSettings settings = read("salient.sharing.models { resnet18 { share = 0.5 }, "
        + "\"fashion-mnist\" { priority = 2 } }");

    assertEquals(new SharingSettings.ModelShare(0.5, 0), settings.of("resnet18"));
    assertEquals(new SharingSettings.ModelShare(1, 2), settings.of("fashion-mnist"));
  }

  @Test
  void offTurnsTheBoundOnCallTimeOff() {
    assertTrue(read("salient.sharing.max-call-time = off").maxCallTime().isZero());
  }

  @Test
  void aShareThatIsNotPositiveIsRefusedNamingTheModel() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> read("salient.sharing.models.resnet18.share = 0"));

    assertTrue(e.getMessage().contains("salient.sharing.models.resnet18"), e.getMessage());
  }
}
