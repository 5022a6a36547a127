package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.Tensor;
import dev.salient.inference.grpc.GRPCInferenceServiceClient;
import dev.salient.inference.grpc.InferTensorContents;
import dev.salient.inference.grpc.ModelInferRequest;
import dev.salient.inference.grpc.ModelInferRequest.InferInputTensor;
import dev.salient.inference.grpc.ModelInferRequest.InferRequestedOutputTensor;
import dev.salient.inference.grpc.ModelInferResponse;
import dev.salient.inference.grpc.ModelMetadataRequest;
import dev.salient.inference.grpc.ModelMetadataResponse;
import dev.salient.inference.grpc.ModelMetadataResponse.TensorMetadata;
import dev.salient.inference.grpc.ModelReadyRequest;
import dev.salient.inference.grpc.ServerLiveRequest;
import dev.salient.inference.grpc.ServerMetadataRequest;
import dev.salient.inference.grpc.ServerReadyRequest;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.ServerVersion;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Open Inference Protocol (KServe v2) over gRPC, spoken by a client generated from the
 * protocol's own .proto (inference.GRPCInferenceService), against a real server on loopback:
 * health, metadata, inference equal to Classify's, and the statuses of bad requests.
 */
class OpenInferenceProtocolTest {
  private static final String MODEL = "fashion-mnist";
  private static final int CLASSES = 10;
  private static final int PIXELS = 28 * 28;

  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static GRPCInferenceServiceClient inference;
  static ExplainerClient explainer;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
        + "salient.scheduler.measure-best-batch = false").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "oip-server", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "oip-client", config);
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false);
    inference = GRPCInferenceServiceClient.create(settings, clientSystem);
    explainer = ExplainerClient.create(settings, clientSystem);
  }

  @AfterAll
  static void stop() {
    inference.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    explainer.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  private static Status statusOf(CompletionStage<?> call) {
    try {
      await(call);
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e.getCause() != null ? e.getCause() : e);
    }
  }

  /** Seeded pixels in [0, 1], one 1×28×28 image after another. */
  private static float[] pixels(int images, long seed) {
    Random random = new Random(seed);
    float[] out = new float[images * PIXELS];
    for (int i = 0; i < out.length; i++) {
      out[i] = random.nextFloat();
    }
    return out;
  }

  private static ByteString littleEndian(float[] values, int from, int count) {
    ByteBuffer b = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = from; i < from + count; i++) {
      b.putFloat(values[i]);
    }
    return ByteString.copyFrom(b.array());
  }

  private static float[] floats(ByteString raw) {
    ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[raw.size() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getFloat();
    }
    return out;
  }

  private static float[] floats(List<Float> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }

  /** Classify's probabilities ({@code logits} false) or logits of {@code image}, by class index. */
  private static float[] classify(Image image, boolean logits) {
    List<ClassScore> top = await(explainer.classify(ClassifyRequest.newBuilder()
        .setImage(image).setTopK(CLASSES).build())).getTopList();
    float[] out = new float[CLASSES];
    for (ClassScore s : top) {
      out[s.getIndex()] = logits ? s.getLogit() : s.getProbability();
    }
    return out;
  }

  private static Image tensorImage(float[] pixels, int index) {
    return Image.newBuilder().setTensor(Tensor.newBuilder().addShape(1).addShape(28).addShape(28)
        .setData(littleEndian(pixels, index * PIXELS, PIXELS))).build();
  }

  private static ModelInferRequest.Builder fp32Request(float[] pixels, int images) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (float p : pixels) {
      contents.addFp32Contents(p);
    }
    return ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("input").setDatatype("FP32")
            .addShape(images).addShape(1).addShape(28).addShape(28).setContents(contents));
  }

  private static ModelInferRequest.Builder bytesRequest(byte[]... images) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (byte[] image : images) {
      contents.addBytesContents(ByteString.copyFrom(image));
    }
    return ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("image").setDatatype("BYTES")
            .addShape(images.length).setContents(contents));
  }

  @Test
  void serverLive_andServerReady_areTrueWhileTheServerServes() {
    assertTrue(await(inference.serverLive(ServerLiveRequest.getDefaultInstance())).getLive());
    assertTrue(await(inference.serverReady(ServerReadyRequest.getDefaultInstance())).getReady());
  }

  @Test
  void modelReady_isTrueForAServedModelWithOrWithoutItsVersion() {
    assertTrue(await(inference.modelReady(ModelReadyRequest.newBuilder().setName(MODEL).build()))
        .getReady());
    assertTrue(await(inference.modelReady(ModelReadyRequest.newBuilder().setName(MODEL)
        .setVersion("1").build())).getReady());
  }

  @Test
  void modelReady_error_unknownModelIsNotFound() {
    Status status = statusOf(inference.modelReady(
        ModelReadyRequest.newBuilder().setName("no-such-model").build()));
    assertEquals(Status.Code.NOT_FOUND, status.getCode());
    assertTrue(status.getDescription().contains("no-such-model"), status.getDescription());
  }

  @Test
  void serverMetadata_namesSalientAndItsVersion() {
    var metadata = await(inference.serverMetadata(ServerMetadataRequest.getDefaultInstance()));
    assertEquals("salient", metadata.getName());
    assertEquals(ServerVersion.get(), metadata.getVersion());
  }

  @Test
  void modelMetadata_describesTheInputsAndOutputsInTheProtocolsDatatypes() {
    ModelMetadataResponse metadata = await(inference.modelMetadata(
        ModelMetadataRequest.newBuilder().setName(MODEL).build()));
    assertEquals(ModelMetadataResponse.newBuilder().setName(MODEL).addVersions("1")
        .setPlatform("pytorch_djl")
        .addInputs(TensorMetadata.newBuilder().setName("input").setDatatype("FP32")
            .addAllShape(List.of(-1L, 1L, 28L, 28L)))
        .addInputs(TensorMetadata.newBuilder().setName("image").setDatatype("BYTES")
            .addShape(-1))
        .addOutputs(TensorMetadata.newBuilder().setName("logits").setDatatype("FP32")
            .addAllShape(List.of(-1L, 10L)))
        .addOutputs(TensorMetadata.newBuilder().setName("probabilities").setDatatype("FP32")
            .addAllShape(List.of(-1L, 10L)))
        .build(), metadata);
  }

  @Test
  void modelInfer_fp32ContentsGivesClassifysLogitsAndProbabilities() {
    float[] pixels = pixels(1, 1);

    ModelInferResponse response = await(inference.modelInfer(
        fp32Request(pixels, 1).setId("request-7").build()));

    assertEquals(MODEL, response.getModelName());
    assertEquals("1", response.getModelVersion());
    assertEquals("request-7", response.getId());
    assertEquals(List.of("logits", "probabilities"),
        response.getOutputsList().stream().map(o -> o.getName()).toList());
    for (var output : response.getOutputsList()) {
      assertEquals("FP32", output.getDatatype());
      assertEquals(List.of(1L, 10L), output.getShapeList());
    }
    Image image = tensorImage(pixels, 0);
    assertArrayEquals(classify(image, true),
        floats(response.getOutputs(0).getContents().getFp32ContentsList()));
    assertArrayEquals(classify(image, false),
        floats(response.getOutputs(1).getContents().getFp32ContentsList()));
  }

  @Test
  void modelInfer_rawBatchOfEightGivesEachImagesClassifyAnswerInItsRow() {
    float[] pixels = pixels(8, 2);
    ModelInferRequest request = ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("input").setDatatype("FP32")
            .addAllShape(List.of(8L, 1L, 28L, 28L)))
        .addOutputs(InferRequestedOutputTensor.newBuilder().setName("probabilities"))
        .addRawInputContents(littleEndian(pixels, 0, pixels.length))
        .build();

    ModelInferResponse response = await(inference.modelInfer(request));

    assertEquals(1, response.getOutputsCount());
    assertEquals("probabilities", response.getOutputs(0).getName());
    assertEquals(List.of(8L, 10L), response.getOutputs(0).getShapeList());
    assertTrue(!response.getOutputs(0).hasContents(), "raw in, raw out");
    float[] rows = floats(response.getRawOutputContents(0));
    for (int i = 0; i < 8; i++) {
      float[] expected = classify(tensorImage(pixels, i), false);
      float[] row = java.util.Arrays.copyOfRange(rows, i * CLASSES, (i + 1) * CLASSES);
      // The eight rows may share engine calls: batched results agree to float rounding.
      for (int c = 0; c < CLASSES; c++) {
        assertEquals(expected[c], row[c], 1e-5, "image " + i + ", class " + c);
      }
    }
  }

  @Test
  void modelInfer_bytesOfEncodedImagesGiveClassifysAnswerForEach() {
    byte[] boot = TestImages.bytes(0);
    byte[] other = TestImages.bytes(15);

    ModelInferResponse response = await(inference.modelInfer(bytesRequest(boot, other).build()));

    float[] probabilities = floats(response.getOutputs(1).getContents().getFp32ContentsList());
    List<byte[]> images = List.of(boot, other);
    for (int i = 0; i < 2; i++) {
      float[] expected = classify(Image.newBuilder()
          .setEncoded(ByteString.copyFrom(images.get(i))).build(), false);
      for (int c = 0; c < CLASSES; c++) {
        assertEquals(expected[c], probabilities[i * CLASSES + c], 1e-5);
      }
    }
    float sum = 0;
    for (int c = 0; c < CLASSES; c++) {
      sum += probabilities[c];
    }
    assertEquals(1f, sum, 1e-5, "a row of probabilities sums to 1");
  }

  @Test
  void modelInfer_rawBytesAreLengthPrefixedElements() {
    byte[] boot = TestImages.bytes(0);
    ByteBuffer raw = ByteBuffer.allocate(4 + boot.length).order(ByteOrder.LITTLE_ENDIAN);
    raw.putInt(boot.length).put(boot);
    ModelInferRequest request = ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("image").setDatatype("BYTES")
            .addShape(1))
        .addRawInputContents(ByteString.copyFrom(raw.array()))
        .build();

    ModelInferResponse response = await(inference.modelInfer(request));

    float[] expected = classify(Image.newBuilder().setEncoded(ByteString.copyFrom(boot)).build(),
        true);
    assertArrayEquals(expected, floats(response.getRawOutputContents(0)));
  }

  @Test
  void modelInfer_error_unknownModelIsNotFound() {
    Status status = statusOf(inference.modelInfer(
        fp32Request(pixels(1, 3), 1).setModelName("no-such-model").build()));
    assertEquals(Status.Code.NOT_FOUND, status.getCode());
  }

  @Test
  void modelInfer_error_unknownVersionIsNotFound() {
    Status status = statusOf(inference.modelInfer(
        fp32Request(pixels(1, 3), 1).setModelVersion("7").build()));
    assertEquals(Status.Code.NOT_FOUND, status.getCode());
    assertTrue(status.getDescription().contains("\"7\""), status.getDescription());
  }

  @Test
  void modelInfer_error_wrongShapeIsInvalidArgumentNamingTheModelsShape() {
    ModelInferRequest request = ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("input").setDatatype("FP32")
            .addAllShape(List.of(1L, 3L, 28L, 28L)))
        .addRawInputContents(ByteString.copyFrom(new byte[4 * 3 * PIXELS]))
        .build();

    Status status = statusOf(inference.modelInfer(request));

    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("[N, 1, 28, 28]"), status.getDescription());
  }

  @Test
  void modelInfer_error_contentsThatDoNotFillTheShapeAreInvalidArgument() {
    ModelInferRequest request = fp32Request(pixels(1, 4), 2).build();

    Status status = statusOf(inference.modelInfer(request));

    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("needs 1568"), status.getDescription());
  }

  @Test
  void modelInfer_error_wrongDatatypeIsInvalidArgument() {
    ModelInferRequest request = ModelInferRequest.newBuilder().setModelName(MODEL)
        .addInputs(InferInputTensor.newBuilder().setName("input").setDatatype("FP64")
            .addAllShape(List.of(1L, 1L, 28L, 28L)))
        .build();

    Status status = statusOf(inference.modelInfer(request));

    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("must be FP32"), status.getDescription());
  }

  @Test
  void modelInfer_error_unknownInputOrOutputIsInvalidArgument() {
    ModelInferRequest unknownInput = bytesRequest(TestImages.bytes(0)).build().toBuilder()
        .setInputs(0, bytesRequest(TestImages.bytes(0)).getInputs(0).toBuilder().setName("x"))
        .build();
    ModelInferRequest unknownOutput = bytesRequest(TestImages.bytes(0))
        .addOutputs(InferRequestedOutputTensor.newBuilder().setName("softmax")).build();

    assertEquals(Status.Code.INVALID_ARGUMENT,
        statusOf(inference.modelInfer(unknownInput)).getCode());
    Status output = statusOf(inference.modelInfer(unknownOutput));
    assertEquals(Status.Code.INVALID_ARGUMENT, output.getCode());
    assertTrue(output.getDescription().contains("\"softmax\""), output.getDescription());
  }

  @Test
  void modelInfer_error_undecodableImageHasClassifysStatusAndMessage() {
    byte[] garbage = "not an image".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    Status infer = statusOf(inference.modelInfer(bytesRequest(garbage).build()));
    Status classify = statusOf(explainer.classify(ClassifyRequest.newBuilder()
        .setModel(MODEL).setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(garbage)))
        .build()));

    assertEquals(Status.Code.INVALID_ARGUMENT, infer.getCode());
    assertEquals(classify.getCode(), infer.getCode());
    assertEquals(classify.getDescription(), infer.getDescription());
  }

  @Test
  void modelInfer_error_emptyModelNameIsInvalidArgumentListingTheModels() {
    Status status = statusOf(inference.modelInfer(
        fp32Request(pixels(1, 5), 1).setModelName("").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains(MODEL), status.getDescription());
  }
}
