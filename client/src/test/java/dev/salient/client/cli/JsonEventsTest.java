package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.client.FakeData;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.Frame;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonEventsTest {

  private static final String SNEAKER =
      """
      {"index":7,"label":"Sneaker","probability":0.98,"logit":7.5}""";
  private static final String SANDAL =
      """
      {"index":5,"label":"Sandal","probability":0.015,"logit":3.25}""";

  private final List<ExplainEvent> events = FakeData.events();

  @Test
  void startedLine() {
    String expected =
        """
        {"event":"started","request_id":"req-1","model":"fashion-mnist","method":"vanilla",\
        "predicted":%s,"top":[%s,%s],"target":%s,"params":{"abs":"true"},\
        "input_shape":[1,28,28]}"""
            .formatted(SNEAKER, SNEAKER, SANDAL, SNEAKER);

    assertEquals(expected, JsonEvents.started(events.get(0).getStarted()));
  }

  @Test
  void frameLineFlattensValues() {
    String expected =
        """
        {"event":"frame","step":1,"phase":"coarse","target_probability":0.5,"top":[%s],\
        "passes":2,"blurred_fraction":0.05}"""
            .formatted(SNEAKER);

    assertEquals(expected, JsonEvents.frame(events.get(1).getFrame()));
  }

  @Test
  void resultLineFlattensValuesAndNamesFiles() {
    WrittenMap files = new WrittenMap("saliency", Path.of("out", "a.png"), Path.of("out", "a.npy"));
    String expected =
        """
        {"event":"result","steps":2,"passes":4,"elapsed_ms":12,"best_probability":0.97,\
        "maps":[{"name":"saliency","shape":[2,3],"colour_scale":"diverging",\
        "file":"out/a.png","npy":"out/a.npy","figure":null}],\
        "curves":[{"name":"deletion","x_label":"blurred_fraction","y_label":"probability",\
        "x":[0.05,0.1],"y":[0.5,0.25]}]}""";

    assertEquals(expected, JsonEvents.result(events.get(3).getResult(), List.of(files)));
  }

  @Test
  void resultLineWithoutFilesHasNullPaths() {
    String line = JsonEvents.result(events.get(3).getResult(), List.of());

    assertTrue(line.contains("\"file\":null,\"npy\":null"), line);
  }

  @Test
  void resultLineCarriesTheProvenance() {
    var result = events.get(3).getResult().toBuilder().setProvenance(
        dev.salient.grpc.Provenance.newBuilder().setModel("fashion-mnist")
            .setModelSha256("ab12").setMethod("smoothgrad").putParams("seed", "0")
            .setTargetClass(7).setServerVersion("0.1.0").setDeterministic(true)).build();

    String line = JsonEvents.result(result, List.of());

    assertTrue(line.contains("""
        "provenance":{"model":"fashion-mnist","model_sha256":"ab12","method":"smoothgrad",\
        "target_class":7,"server_version":"0.1.0","deterministic":true,\
        "params":{"seed":"0"}}"""), line);
  }

  @Test
  void valueNamedLikeAFixedKeyIsPrefixed() {
    Frame f = Frame.newBuilder().setStep(3).putValues("step", 9).putValues("maps", 1).build();

    String line = JsonEvents.frame(f);

    assertTrue(line.contains("\"step\":3,"), line);
    assertTrue(line.contains("\"values.step\":9.0"), line);
    assertTrue(line.contains("\"maps\":1.0"), line);
  }
}
