package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Request parameters are read against what a method declares, once, in its parameters. */
class MethodParametersTest {
  static final Parameter<Integer> STEPS = Parameter.integer("steps", "how many", 10, 1, 100);
  static final Parameter<ChannelReduction> REDUCTION =
      Parameter.choice("reduction", "which", ChannelReduction.MAX_ABS);
  static final Parameter<Double> NOISE = Parameter.number("noise", "how much", 0.5, 0, 1);
  static final Parameter<Boolean> FLAG = Parameter.flag("flag", "whether", false);
  static final List<Parameter<?>> DECLARED = List.of(STEPS, REDUCTION, NOISE, FLAG);

  @Test
  void missingParametersTakeTheirDefaults() {
    MethodParameters p = MethodParameters.parse("m", Map.of(), DECLARED);

    assertEquals(10, p.get(STEPS));
    assertEquals(ChannelReduction.MAX_ABS, p.get(REDUCTION));
    assertEquals(false, p.get(FLAG));
  }

  @Test
  void theEffectiveParametersListEveryDeclaredOneInOrderAsRequestsWriteThem() {
    MethodParameters p = MethodParameters.parse("m", Map.of("noise", "1.0", "flag", "TRUE"),
        DECLARED);

    assertEquals(Map.of("steps", "10", "reduction", "max_abs", "noise", "1", "flag", "true"),
        p.effective());
    assertEquals(List.of("steps", "reduction", "noise", "flag"),
        List.copyOf(p.effective().keySet()));
  }

  @Test
  void anUnknownNameIsRejectedNamingTheKnownOnes() {
    var e = assertThrows(SalientException.InvalidArgument.class,
        () -> MethodParameters.parse("m", Map.of("stpes", "3"), DECLARED));

    assertTrue(e.getMessage().contains("[flag, noise, reduction, steps]"), e.getMessage());
  }

  @Test
  void anOutOfRangeNumberIsRejectedWithTheRange() {
    var e = assertThrows(SalientException.InvalidArgument.class,
        () -> MethodParameters.parse("m", Map.of("steps", "1000"), DECLARED));

    assertTrue(e.getMessage().contains("steps=\"1000\" is invalid; use an integer in [1, 100]"),
        e.getMessage());
  }

  @Test
  void notANumberIsRejectedLikeOneOutOfRange() {
    for (String bad : List.of("NaN", "abc", "", "Infinity")) {
      var e = assertThrows(SalientException.InvalidArgument.class,
          () -> MethodParameters.parse("m", Map.of("noise", bad), DECLARED), bad);
      assertTrue(e.getMessage().contains("use a number in [0, 1]"), e.getMessage());
    }
  }

  @Test
  void choicesAreCaseInsensitiveAndListedWhenWrong() {
    assertEquals(ChannelReduction.MEAN,
        MethodParameters.parse("m", Map.of("reduction", "MEAN"), DECLARED).get(REDUCTION));
    var e = assertThrows(SalientException.InvalidArgument.class,
        () -> MethodParameters.parse("m", Map.of("reduction", "median"), DECLARED));
    assertTrue(e.getMessage().contains("one of [max_abs, mean, signed]"), e.getMessage());
  }

  @Test
  void aTextParameterSaysWhyItsValueIsRefused() {
    Parameter<Integer> even = Parameter.text("even", "an even number", 2, "an even integer",
        text -> {
          int v = Integer.parseInt(text);
          if (v % 2 != 0) {
            throw new IllegalArgumentException(v + " is odd");
          }
          return v;
        }, v -> Integer.toString(v));

    var e = assertThrows(SalientException.InvalidArgument.class,
        () -> MethodParameters.parse("m", Map.of("even", "3"), List.of(even)));

    assertEquals("method m: parameter even=\"3\" is invalid (3 is odd); use an even integer",
        e.getMessage());
  }

  @Test
  void aDefaultOutsideItsOwnRangeIsRefusedWhereItIsDeclared() {
    assertThrows(IllegalStateException.class,
        () -> Parameter.integer("steps", "how many", 0, 1, 100));
    assertThrows(IllegalStateException.class,
        () -> Parameter.number("noise", "how much", 2, 0, 1));
  }

  @Test
  void readingAnUndeclaredParameterIsAProgrammingError() {
    MethodParameters p = MethodParameters.parse("m", Map.of(), List.of(STEPS));

    assertThrows(IllegalArgumentException.class, () -> p.get(NOISE));
  }

  @Test
  void everyMethodRunsOnItsDefaultsAndListsEachDeclaredParameter() {
    for (ExplanationMethod method : MethodRegistry.standard().all()) {
      Map<String, String> effective = method.prepare(Map.of()).parameters();
      for (Parameter<?> p : method.parameters()) {
        if (effective.containsKey(p.name())) {
          assertEquals(p.defaultText(), effective.get(p.name()), method.name() + "." + p);
        }
      }
      assertTrue(effective.keySet().stream().allMatch(name -> method.parameters().stream()
          .anyMatch(p -> p.name().equals(name))), method.name() + ": " + effective);
    }
  }
}
