package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every registered method's actual result on the default model, with its defaults and with the
 * parameters that change what the result carries, holds exactly the values and maps its
 * {@link ResultSchema} declares: no undeclared name, every always-there field there, every value
 * of its declared type, every map of its declared shape and colour scale. A method registered
 * without a schema fails here.
 */
class ResultSchemaTest {
  static final ModelPackage model = LoadedEngine.fashionMnist();
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(model);
  static final MethodRegistry registry = MethodRegistry.standard();

  /** Parameter sets that change which fields a result has, per method; defaults for all. */
  private static final Map<String, List<Map<String, String>>> VARIANTS = Map.of(
      "vanilla", List.of(Map.of("reduction", "signed")),
      "smoothgrad", List.of(Map.of("reduction", "signed", "samples", "4")),
      "nonlinear", List.of(Map.of("mode", "both", "steps_per_level", "2")),
      "blur_salient", List.of(Map.of("mode", "both", "steps_per_level", "2")));

  static Stream<Arguments> runs() {
    List<Arguments> runs = new ArrayList<>();
    for (ExplanationMethod method : registry.supportedBy(model)) {
      runs.add(Arguments.of(method.name(), Map.of(), 1));
      runs.add(Arguments.of(method.name(), Map.of(), 2));
      for (Map<String, String> params : VARIANTS.getOrDefault(method.name(), List.of())) {
        runs.add(Arguments.of(method.name(), params, 1));
      }
    }
    return runs.stream();
  }

  @Test
  void everyRegisteredMethodDeclaresAResultSchema() {
    for (ExplanationMethod method : registry.all()) {
      assertNotNull(method.resultSchema(), method.name() + " declares no resultSchema(): list "
          + "the values and maps of its result (ResultSchema)");
    }
  }

  @ParameterizedTest(name = "{0} {1} target rank {2}")
  @MethodSource("runs")
  void theResultCarriesExactlyTheDeclaredValuesAndMaps(String name, Map<String, String> params,
      int targetRank) {
    ExplanationMethod method = registry.lookup(name, model);
    ResultSchema schema = method.resultSchema();
    assertNotNull(schema, name + " declares no resultSchema()");
    float[] image = TestImages.sample(3);
    int target = rank(loaded.harness().logits(image), targetRank);

    ExplainEvent.Result result = loaded.harness().run(method, params, image, target).result();

    for (var value : result.values().entrySet()) {
      Optional<ResultSchema.Field> field = schema.value(value.getKey());
      assertTrue(field.isPresent(), name + " returns value " + value.getKey()
          + ", which its schema does not declare");
      assertTrue(field.get().valueType().admits(value.getValue(), model.numClasses()),
          name + " value " + value.getKey() + " = " + value.getValue() + " is not a "
              + field.get().type());
    }
    for (ResultSchema.Field field : schema.values()) {
      if (field.required()) {
        assertTrue(result.values().containsKey(field.name()),
            name + " declares value " + field.name() + " always there; the result lacks it");
      }
    }
    InputSpec spec = model.input();
    for (SaliencyMap map : result.maps()) {
      Optional<ResultSchema.Field> field = schema.map(map.name());
      assertTrue(field.isPresent(), name + " returns map " + map.name()
          + ", which its schema does not declare");
      assertTrue(field.get().mapShape().admits(map.tensor().shape(), spec), name + " map "
          + map.name() + " has shape " + Arrays.toString(map.tensor().shape()) + ", not "
          + field.get().shape());
      if (field.get().colourScale() != null) {
        assertEquals(field.get().colourScale(), map.colourScale(), name + " map " + map.name());
      }
    }
    for (ResultSchema.Field field : schema.maps()) {
      if (field.required()) {
        assertTrue(result.maps().stream().anyMatch(m -> m.name().equals(field.name())),
            name + " declares map " + field.name() + " always there; the result lacks it");
      }
    }
  }

  @Test
  void aPlaceholderStandsForLettersAndDigitsOnly() {
    ResultSchema.Field field = ResultSchema.builder()
        .value("weight_<class>", ResultSchema.ValueType.NUMBER, "a weight", "per class")
        .build().values().get(0);

    assertTrue(field.matches("weight_3"));
    assertTrue(field.matches("weight_12"));
    assertTrue(!field.matches("weight_"));
    assertTrue(!field.matches("weight_3_extra"));
    assertTrue(!field.matches("weights_3"));
  }

  /** The class of rank {@code rank} (1: the prediction). */
  private static int rank(float[] logits, int rank) {
    Integer[] order = new Integer[logits.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    return order[rank - 1];
  }
}
