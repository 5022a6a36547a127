package dev.salient.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The benchmark runs end to end and prints the JSON lines scripts rely on: their names, fields
 * and counts, never a speed (a loaded machine may measure any rate, even 0, in a short window).
 * Tagged "evaluation": a full bench run takes over 10 s, so it runs in CI ({@code -Pevaluation}),
 * not in the quick {@code mvn verify}.
 */
@Tag("evaluation")
class BenchTest {

  @Test
  void jsonModePrintsOneMeasurementPerLineWithRatiosToBaselines() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Bench bench = new Bench(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    int exit = new CommandLine(bench).execute("--json", "--models", "default", "--seconds",
        "0.2", "--clients", "1,4", "--iterative-method", "vanilla", "--iterative-param",
        "output=probability", "--video-seconds", "1", "--video-warmup-frames", "40",
        "--max-warmup", "0");

    assertEquals(0, exit);
    ObjectMapper mapper = new ObjectMapper();
    List<JsonNode> lines = new ArrayList<>();
    for (String line : bytes.toString(StandardCharsets.UTF_8).split("\n")) {
      lines.add(mapper.readTree(line));
    }
    Map<String, JsonNode> byName = lines.stream()
        .collect(Collectors.toMap(n -> n.get("bench").asText(), n -> n, (a, b) -> a));
    for (String name : List.of("engine.batch1", "engine.bestbatch", "vanilla.1clients",
        "vanilla.4clients", "sequential", "iterative.16concurrent", "memory.rss",
        "memory.soak_growth", "engine.2engines_batch1", "video.30fps", "video.30fps.p50_ms",
        "video.30fps.p99_ms", "video.30fps.dropped", "video.30fps.off_heap_growth",
        "video.30fps.heap_growth", "engine.frame_ms_paced", "grpc.noop_16clients",
        "engine.batch1_end")) {
      assertTrue(byName.containsKey(name), "missing " + name + " in " + byName.keySet());
    }
    for (JsonNode line : lines) {
      for (String field : List.of("bench", "model", "unit")) {
        assertTrue(line.path(field).isTextual(), field + " in " + line);
      }
      assertTrue(line.path("value").isNumber(), "value in " + line);
      if (line.has("baseline")) {
        assertTrue(line.path("baseline").isTextual() && line.path("baseline_value").isNumber()
            && line.path("ratio").isNumber(), "a baseline's name, value and ratio: " + line);
      }
    }
    JsonNode vanilla = byName.get("vanilla.4clients");
    assertEquals("default", vanilla.get("model").asText());
    assertEquals("engine.bestbatch", vanilla.get("baseline").asText());
    JsonNode iterative = byName.get("iterative.16concurrent");
    assertTrue(iterative.path("engine_img_per_s").isNumber(), "engine rate: " + iterative);
    assertEquals(3, iterative.get("trial_ratios").size(), "one ratio per trial: " + iterative);
    assertEquals(3, iterative.get("waves_trial_ratios").size(), "waves too: " + iterative);
    assertTrue(iterative.path("waves_ratio").isNumber(), "waves ratio: " + iterative);
    JsonNode video = byName.get("video.30fps");
    assertEquals(30, video.get("frames_in").asInt(), "one second at 30 fps");
    assertEquals(30, video.get("frames_out").asInt() + video.get("dropped").asInt(),
        "every frame answered: explained or dropped");
    assertTrue(video.path("server_pass_mean_ms").isNumber(), "the pass in the stream: " + video);
    JsonNode paced = byName.get("engine.frame_ms_paced");
    assertEquals(60, paced.get("frames").asInt(), "30 raw-engine frames before the stream, 30 after");
    assertTrue(paced.path("before_ms").isNumber() && paced.path("after_ms").isNumber(),
        "both sides of the stream: " + paced);
    JsonNode p50 = byName.get("video.30fps.p50_ms");
    assertEquals("engine.frame_ms_paced", p50.get("baseline").asText());
    assertEquals(paced.get("value").asDouble(), p50.get("baseline_value").asDouble(), 1e-9);
    assertTrue(p50.path("tight_loop_ms").isNumber(), "engine.batch1's tight loop: " + p50);
  }
}
