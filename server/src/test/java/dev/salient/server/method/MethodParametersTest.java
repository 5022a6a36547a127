package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Request parameters are checked against what a method declares. */
class MethodParametersTest {
  static final List<ParameterSpec> SPECS = List.of(
      new ParameterSpec("steps", "how many", "10"),
      new ParameterSpec("reduction", "which", "max_abs"));

  @Test
  void missingParametersTakeTheirDefaults() {
    MethodParameters p = new MethodParameters("m", Map.of(), SPECS);

    assertEquals(10, p.integer("steps", 1, 100));
    assertEquals(ChannelReduction.MAX_ABS, p.choice("reduction", ChannelReduction.class));
  }

  @Test
  void anUnknownNameIsRejectedNamingTheKnownOnes() {
    var e = assertThrows(SalientException.InvalidArgument.class,
        () -> new MethodParameters("m", Map.of("stpes", "3"), SPECS));

    assertTrue(e.getMessage().contains("[reduction, steps]"), e.getMessage());
  }

  @Test
  void anOutOfRangeNumberIsRejectedWithTheRange() {
    MethodParameters p = new MethodParameters("m", Map.of("steps", "1000"), SPECS);

    var e = assertThrows(SalientException.InvalidArgument.class, () -> p.integer("steps", 1, 100));
    assertTrue(e.getMessage().contains("[1, 100]"), e.getMessage());
  }

  @Test
  void choicesAreCaseInsensitiveAndListedWhenWrong() {
    assertEquals(ChannelReduction.MEAN, new MethodParameters("m", Map.of("reduction", "MEAN"),
        SPECS).choice("reduction", ChannelReduction.class));
    var e = assertThrows(SalientException.InvalidArgument.class, () -> new MethodParameters("m",
        Map.of("reduction", "median"), SPECS).choice("reduction", ChannelReduction.class));
    assertTrue(e.getMessage().contains("max_abs"), e.getMessage());
  }
}
