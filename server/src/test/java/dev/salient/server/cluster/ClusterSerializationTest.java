package dev.salient.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.ClassScore;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.TargetSpec;
import java.io.NotSerializableException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonCborSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What crosses between nodes survives the trip: orders and every kind of event go through
 * Pekko's Jackson CBOR serializer, as a cluster node configures it, and come back whole, floats
 * to the bit; Java serialization stays off.
 */
class ClusterSerializationTest {
  private static ActorTestKit testKit;
  private static Serialization serialization;

  @BeforeAll
  static void start() {
    Config base = ConfigFactory.parseString("salient.cluster.port = 0")
        .withFallback(ConfigFactory.load());
    testKit = ActorTestKit.create(ClusterSettings.SYSTEM_NAME,
        ClusterNode.config(base, ClusterSettings.from(base)));
    serialization = SerializationExtension.get(testKit.system());
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @SuppressWarnings("unchecked")
  private static <T> T roundTrip(T message) throws NotSerializableException {
    Serializer serializer = serialization.findSerializerFor(message);
    assertInstanceOf(JacksonCborSerializer.class, serializer,
        message.getClass().getSimpleName() + " is not bound to jackson-cbor");
    byte[] bytes = serialization.serialize(message).get();
    return (T) serialization.deserialize(bytes, serializer.identifier(),
        Serializers.manifestFor(serializer, message)).get();
  }

  @Test
  void anOrderArrivesWithItsPixelsParametersTargetAndLimits() throws Exception {
    float[] pixels = {0f, -0f, 1e-45f, 0.1f, Float.MAX_VALUE, 0.5f};
    Map<String, String> parameters = new LinkedHashMap<>();
    parameters.put("max_iterations", "20");
    parameters.put("label", "T-shirt/top é");
    ExplainOrder order = new ExplainOrder("req-1", "fashion-mnist", pixels, "bim", parameters,
        new TargetSpec.Label("Pullover"), 3, 2, true, false, 123L, "alice", true, 4, true);
    ActorRef<WorkerNode.OrderEvents> replyTo = replyTo();
    WorkerNode.RunOrder sent = new WorkerNode.RunOrder(order, 5_000_000_000L, true, replyTo);

    WorkerNode.RunOrder received = roundTrip(sent);

    ExplainOrder o = received.order();
    assertEquals(List.of("req-1", "fashion-mnist", "bim", "alice"),
        List.of(o.requestId(), o.model(), o.method(), o.client()));
    assertArrayEquals(bits(pixels), bits(o.image()));
    assertEquals(parameters, o.parameters());
    assertEquals(new TargetSpec.Label("Pullover"), o.target());
    assertEquals(List.of(3, 2, 4), List.of(o.topK(), o.frameStride(), o.priority()));
    assertEquals(List.of(true, false, true, true), List.of(o.frameTensors(), o.renderPng(),
        o.deterministic(), o.liveFrame()));
    assertEquals(5_000_000_000L, received.remainingNanos());
    assertEquals(true, received.continuesStream());
    assertEquals(replyTo, received.replyTo());
  }

  @Test
  void everyTargetKindArrivesAsItself() throws Exception {
    for (TargetSpec target : List.of(new TargetSpec.Predicted(), new TargetSpec.ClassIndex(7),
        new TargetSpec.Label("Bag"), new TargetSpec.Rank(2))) {
      ExplainOrder order = new ExplainOrder("r", "m", new float[] {1f}, "vanilla", Map.of(),
          target, 1, 1, false, false, 0L, null);
      WorkerNode.RunOrder received = roundTrip(new WorkerNode.RunOrder(order, Long.MAX_VALUE,
          false, replyTo()));
      assertEquals(target, received.order().target());
    }
  }

  @Test
  void aStartedFrameAndResultArriveWhole() throws Exception {
    ClassScore coat = new ClassScore(4, "Coat", 0.875f, 3.25f);
    ClassScore shirt = new ClassScore(6, "Shirt", 0.0625f, -1.5f);
    ExplainEvent.Started started = new ExplainEvent.Started("req-2", "fashion-mnist",
        "nonlinear", coat, List.of(coat, shirt), shirt, Map.of("steps", "10"),
        new long[] {1, 28, 28});
    FloatTensor map = new FloatTensor(new long[] {2, 2}, new float[] {0.25f, -0f, Float.NaN,
        -3.5e-7f});
    Map<String, Double> values = new LinkedHashMap<>();
    values.put("blurred_fraction", 0.1);
    values.put("best_probability", Double.NaN);
    ExplainEvent.Frame frame = new ExplainEvent.Frame(3, "search", 0.5f, List.of(coat), values,
        map, map, 12);
    ExplainEvent.Result result = new ExplainEvent.Result(
        List.of(new SaliencyMap("saliency", map, ColourScale.DIVERGING, new byte[] {1, 2, 3},
            new byte[] {4, 5})),
        values, List.of(new ExplainEvent.Curve("probability", "step", "p",
            new double[] {0, 1}, new double[] {0.9, 0.1})),
        List.of(new ExplainEvent.Snapshot("step 1", 1, values, List.of())), 10, 40, 17L,
        new ExplainEvent.Provenance("fashion-mnist", "ab12", "nonlinear", Map.of("steps", "10"),
            6, "0.1.0", false));

    ExplainEvent.Started s = (ExplainEvent.Started) roundTrip(WorkerNode.Delivery.of(started))
        .event();
    assertEquals(List.of(coat, List.of(coat, shirt), shirt), List.of(s.predicted(), s.top(),
        s.target()));
    assertArrayEquals(new long[] {1, 28, 28}, s.inputShape());

    ExplainEvent.Frame f = (ExplainEvent.Frame) roundTrip(WorkerNode.Delivery.of(frame)).event();
    assertEquals(List.of(3, "search", 0.5f, 12), List.of(f.step(), f.phase(),
        f.targetProbability(), f.passes()));
    assertEquals(values, f.values());
    assertArrayEquals(bits(map.data()), bits(f.map().data()));
    assertArrayEquals(map.shape(), f.map().shape());

    ExplainEvent.Result r = (ExplainEvent.Result) roundTrip(WorkerNode.Delivery.of(result))
        .event();
    SaliencyMap m = r.maps().get(0);
    assertEquals(ColourScale.DIVERGING, m.colourScale());
    assertArrayEquals(new byte[] {1, 2, 3}, m.overlayPng());
    assertArrayEquals(new byte[] {4, 5}, m.figurePng());
    assertArrayEquals(bits(map.data()), bits(m.tensor().data()));
    assertArrayEquals(new double[] {0.9, 0.1}, r.curves().get(0).y());
    assertEquals(result.provenance(), r.provenance());
    assertEquals(List.of(10, 40, 17L), List.of(r.steps(), r.passes(), r.elapsedMillis()));
  }

  @Test
  void aFailureArrivesAsTheStatusTheWorkerGaveIt() throws Exception {
    WorkerNode.Delivery received = roundTrip(WorkerNode.Delivery.failure(
        new SalientException.InvalidArgument("unknown parameter 'step'")));

    assertNull(received.event());
    SalientException error = received.toException("pekko://salient@127.0.0.1:1");
    assertInstanceOf(SalientException.InvalidArgument.class, error);
    assertEquals("unknown parameter 'step'", error.getMessage());
  }

  @Test
  void javaSerializationIsOff() {
    record NotBound(int x) implements Serializable {}
    assertThrows(Exception.class, () -> serialization.serialize(new NotBound(1)).get());
  }

  private static int[] bits(float[] values) {
    int[] bits = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      bits[i] = Float.floatToRawIntBits(values[i]);
    }
    return bits;
  }

  private static ActorRef<WorkerNode.OrderEvents> replyTo() {
    return testKit.<WorkerNode.OrderEvents>createTestProbe().ref();
  }
}
