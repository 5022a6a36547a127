package dev.salient.client;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.Curve;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.Frame;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Started;
import dev.salient.grpc.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Canned messages shared by the fake server and the tests' expectations. */
public final class FakeData {

  /** The bytes the fake sends as the overlay PNG (a PNG signature is enough for the client). */
  public static final byte[] OVERLAY = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2};

  /** The bytes the fake sends as the figure PNG. */
  public static final byte[] FIGURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 3, 4};

  /** The saliency map's values, row-major [2, 3]. */
  public static final float[] MAP_VALUES = {0f, 0.25f, 0.5f, 0.75f, 1f, -1.5f};

  private FakeData() {}

  /** Class {@code index} of the fake model with a given probability and logit. */
  public static ClassScore score(int index, String label, float probability, float logit) {
    return ClassScore.newBuilder()
        .setIndex(index)
        .setLabel(label)
        .setProbability(probability)
        .setLogit(logit)
        .build();
  }

  /** The fake's one model. */
  public static ModelInfo model() {
    return ModelInfo.newBuilder()
        .setName("fashion-mnist")
        .setDescription("A small CNN for Fashion-MNIST.")
        .setFormat("builtin")
        .addAllInputShape(List.of(1L, 28L, 28L))
        .addAllLabels(
            List.of(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot"))
        .setPixelMin(0)
        .setPixelMax(1)
        .addMean(0.286f)
        .addStd(0.353f)
        .addMethods(
            MethodInfo.newBuilder()
                .setName("vanilla")
                .setDescription("Gradient of the target logit.")
                .setFamily(MethodInfo.Family.GRADIENT)
                .setLiveVideo(true)
                .addParameters(
                    ParameterInfo.newBuilder()
                        .setName("abs")
                        .setDescription("Take absolute values.")
                        .setDefaultValue("true")
                        .setKind(ParameterInfo.Kind.CHOICE)
                        .setAccepted("one of [true, false]")
                        .addChoices("true")
                        .addChoices("false")))
        .addMethods(
            MethodInfo.newBuilder()
                .setName("geosal")
                .setDescription("The closest adversarial example.")
                .setFamily(MethodInfo.Family.ADVERSARIAL)
                .addParameters(
                    ParameterInfo.newBuilder()
                        .setName("max_iterations")
                        .setDescription("Iterations at most.")
                        .setDefaultValue("50")
                        .setKind(ParameterInfo.Kind.INTEGER)
                        .setAccepted("an integer in [1, 10000]")
                        .setMin(1)
                        .setMax(10000)))
        .addMethods(
            MethodInfo.newBuilder()
                .setName("nonlinear")
                .setDescription("A nonlinear saliency trajectory.")
                .setFamily(MethodInfo.Family.NONLINEAR))
        .putMetrics("test_accuracy", 0.91)
        .setIsDefault(true)
        .build();
  }

  /** What Classify answers. */
  public static ClassifyResponse classification() {
    return ClassifyResponse.newBuilder()
        .setModel("fashion-mnist")
        .addTop(score(7, "Sneaker", 0.98f, 7.5f))
        .addTop(score(5, "Sandal", 0.015f, 3.25f))
        .build();
  }

  /** The saliency map tensor: float32 little-endian [2, 3]. */
  public static Tensor mapTensor() {
    ByteBuffer data = ByteBuffer.allocate(MAP_VALUES.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : MAP_VALUES) {
      data.putFloat(v);
    }
    return Tensor.newBuilder()
        .addShape(2)
        .addShape(3)
        .setData(ByteString.copyFrom(data.array()))
        .build();
  }

  /** Started, two frames and a result. */
  public static List<ExplainEvent> events() {
    ClassScore sneaker = score(7, "Sneaker", 0.98f, 7.5f);
    Started started =
        Started.newBuilder()
            .setRequestId("req-1")
            .setModel("fashion-mnist")
            .setMethod("vanilla")
            .setPredicted(sneaker)
            .addTop(sneaker)
            .addTop(score(5, "Sandal", 0.015f, 3.25f))
            .setTarget(sneaker)
            .putParams("abs", "true")
            .addAllInputShape(List.of(1L, 28L, 28L))
            .build();
    Frame first =
        Frame.newBuilder()
            .setStep(1)
            .setPhase("coarse")
            .setTargetProbability(0.5f)
            .addTop(sneaker)
            .putValues("blurred_fraction", 0.05)
            .setPasses(2)
            .build();
    Frame second =
        first.toBuilder()
            .setStep(2)
            .setTargetProbability(0.25f)
            .putValues("blurred_fraction", 0.1)
            .setPasses(4)
            .build();
    Result result =
        Result.newBuilder()
            .addMaps(
                SaliencyMap.newBuilder()
                    .setName("saliency")
                    .setTensor(mapTensor())
                    .setOverlayPng(ByteString.copyFrom(OVERLAY))
                    .setFigurePng(ByteString.copyFrom(FIGURE))
                    .setColourScale("diverging"))
            .putValues("best_probability", 0.97)
            .addCurves(
                Curve.newBuilder()
                    .setName("deletion")
                    .setXLabel("blurred_fraction")
                    .setYLabel("probability")
                    .addAllX(List.of(0.05, 0.1))
                    .addAllY(List.of(0.5, 0.25)))
            .setSteps(2)
            .setPasses(4)
            .setElapsedMs(12)
            .build();
    return List.of(
        ExplainEvent.newBuilder().setStarted(started).build(),
        ExplainEvent.newBuilder().setFrame(first).build(),
        ExplainEvent.newBuilder().setFrame(second).build(),
        ExplainEvent.newBuilder().setResult(result).build());
  }
}
