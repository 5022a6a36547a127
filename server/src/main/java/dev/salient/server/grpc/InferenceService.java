package dev.salient.server.grpc;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.Image;
import dev.salient.grpc.Tensor;
import dev.salient.inference.grpc.GRPCInferenceService;
import dev.salient.inference.grpc.GRPCInferenceServicePowerApi;
import dev.salient.inference.grpc.InferTensorContents;
import dev.salient.inference.grpc.ModelInferRequest;
import dev.salient.inference.grpc.ModelInferRequest.InferInputTensor;
import dev.salient.inference.grpc.ModelInferResponse;
import dev.salient.inference.grpc.ModelInferResponse.InferOutputTensor;
import dev.salient.inference.grpc.ModelMetadataRequest;
import dev.salient.inference.grpc.ModelMetadataResponse;
import dev.salient.inference.grpc.ModelMetadataResponse.TensorMetadata;
import dev.salient.inference.grpc.ModelReadyRequest;
import dev.salient.inference.grpc.ModelReadyResponse;
import dev.salient.inference.grpc.ServerLiveRequest;
import dev.salient.inference.grpc.ServerLiveResponse;
import dev.salient.inference.grpc.ServerMetadataRequest;
import dev.salient.inference.grpc.ServerMetadataResponse;
import dev.salient.inference.grpc.ServerReadyRequest;
import dev.salient.inference.grpc.ServerReadyResponse;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.util.SalientException;
import dev.salient.server.util.ServerVersion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.grpc.javadsl.Metadata;

/**
 * The Open Inference Protocol's inference.GRPCInferenceService (KServe v2) on Salient's port:
 * health, metadata and ModelInfer, which classifies each image of the request through the
 * Explainer's Classify, so through the same validation, workers and batching. Stateless.
 */
public final class InferenceService implements GRPCInferenceServicePowerApi {
  /** The input of raw pixels: FP32 [N, C, H, W] (or [C, H, W] for one image). */
  static final String PIXELS_INPUT = "input";
  /** The input of encoded images (PNG, JPEG, BMP, GIF): BYTES [N]. */
  static final String ENCODED_INPUT = "image";
  static final String LOGITS_OUTPUT = "logits";
  static final String PROBABILITIES_OUTPUT = "probabilities";
  /** Salient's models have one version each, which the protocol's clients may name. */
  static final String VERSION = "1";
  /** The most images one request may carry; the per-client quota still applies to each. */
  static final int MAX_IMAGES = 256;
  private static final String FP32 = "FP32";
  private static final String BYTES = "BYTES";

  private final ModelCatalog catalog;
  private final ExplainerService explainer;
  private final HealthService health;
  private final AccessLog accessLog;

  /**
   * A service over {@code explainer}'s Classify; ready while {@code health} serves; finished
   * calls go to {@code accessLog}, one line each.
   */
  public InferenceService(ModelCatalog catalog, ExplainerService explainer,
      HealthService health, AccessLog accessLog) {
    this.catalog = catalog;
    this.explainer = explainer;
    this.health = health;
    this.accessLog = accessLog;
  }

  @Override
  public CompletionStage<ServerLiveResponse> serverLive(ServerLiveRequest in, Metadata metadata) {
    return logged("ServerLive", null, metadata,
        CompletableFuture.completedFuture(ServerLiveResponse.newBuilder().setLive(true).build()));
  }

  @Override
  public CompletionStage<ServerReadyResponse> serverReady(ServerReadyRequest in,
      Metadata metadata) {
    return logged("ServerReady", null, metadata, CompletableFuture.completedFuture(
        ServerReadyResponse.newBuilder().setReady(health.serving()).build()));
  }

  @Override
  public CompletionStage<ModelReadyResponse> modelReady(ModelReadyRequest in, Metadata metadata) {
    return logged("ModelReady", in.getName(), metadata, answer(() -> {
      model(in.getName(), in.getVersion(), Caller.of(metadata));
      // Models load before the port is bound: a served model is ready while the server is.
      return ModelReadyResponse.newBuilder().setReady(health.serving()).build();
    }));
  }

  @Override
  public CompletionStage<ServerMetadataResponse> serverMetadata(ServerMetadataRequest in,
      Metadata metadata) {
    return logged("ServerMetadata", null, metadata, CompletableFuture.completedFuture(
        ServerMetadataResponse.newBuilder().setName("salient").setVersion(ServerVersion.get())
            .build()));
  }

  @Override
  public CompletionStage<ModelMetadataResponse> modelMetadata(ModelMetadataRequest in,
      Metadata metadata) {
    return logged("ModelMetadata", in.getName(), metadata, answer(() -> {
      ModelPackage m = model(in.getName(), in.getVersion(), Caller.of(metadata));
      long[] shape = m.input().shape();
      return ModelMetadataResponse.newBuilder()
          .setName(m.name()).addVersions(VERSION).setPlatform(platform(m))
          .addInputs(TensorMetadata.newBuilder().setName(PIXELS_INPUT).setDatatype(FP32)
              .addShape(-1).addShape(shape[0]).addShape(shape[1]).addShape(shape[2]))
          .addInputs(TensorMetadata.newBuilder().setName(ENCODED_INPUT).setDatatype(BYTES)
              .addShape(-1))
          .addOutputs(TensorMetadata.newBuilder().setName(LOGITS_OUTPUT).setDatatype(FP32)
              .addShape(-1).addShape(m.numClasses()))
          .addOutputs(TensorMetadata.newBuilder().setName(PROBABILITIES_OUTPUT).setDatatype(FP32)
              .addShape(-1).addShape(m.numClasses()))
          .build();
    }));
  }

  /**
   * Splits the request's one input into images, classifies them all at once (the workers batch
   * them with each other and with other requests) and puts the scores back in index order.
   */
  @Override
  public CompletionStage<ModelInferResponse> modelInfer(ModelInferRequest in, Metadata metadata) {
    return logged("ModelInfer", in.getModelName(), metadata, infer(in, metadata));
  }

  private CompletionStage<ModelInferResponse> infer(ModelInferRequest in, Metadata metadata) {
    ModelPackage model;
    List<Image> images;
    List<String> outputs;
    try {
      model = model(in.getModelName(), in.getModelVersion(), Caller.of(metadata));
      images = images(in, model);
      outputs = requestedOutputs(in);
    } catch (SalientException e) {
      return CompletableFuture.failedFuture(e);
    }
    int classes = model.numClasses();
    List<CompletableFuture<ClassifyResponse>> answers = new ArrayList<>();
    for (Image image : images) {
      answers.add(explainer.classifyUnlogged(ClassifyRequest.newBuilder()
          .setModel(model.name()).setImage(image).setTopK(classes).build(), metadata)
          .toCompletableFuture());
    }
    boolean raw = in.getRawInputContentsCount() > 0;
    return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).thenApply(done -> {
      float[] logits = new float[images.size() * classes];
      float[] probabilities = new float[images.size() * classes];
      for (int i = 0; i < answers.size(); i++) {
        for (ClassScore score : answers.get(i).join().getTopList()) {
          logits[i * classes + score.getIndex()] = score.getLogit();
          probabilities[i * classes + score.getIndex()] = score.getProbability();
        }
      }
      ModelInferResponse.Builder out = ModelInferResponse.newBuilder()
          .setModelName(model.name()).setModelVersion(VERSION).setId(in.getId());
      for (String name : outputs) {
        float[] values = name.equals(LOGITS_OUTPUT) ? logits : probabilities;
        InferOutputTensor.Builder tensor = InferOutputTensor.newBuilder().setName(name)
            .setDatatype(FP32).addShape(images.size()).addShape(classes);
        if (raw) {
          out.addRawOutputContents(littleEndian(values));
        } else {
          InferTensorContents.Builder contents = InferTensorContents.newBuilder();
          for (float v : values) {
            contents.addFp32Contents(v);
          }
          tensor.setContents(contents);
        }
        out.addOutputs(tensor);
      }
      return out.build();
    });
  }

  /** The images of the request's single input, as Salient's Image messages. */
  private static List<Image> images(ModelInferRequest in, ModelPackage model) {
    if (in.getInputsCount() != 1) {
      throw new SalientException.InvalidArgument("ModelInfer takes exactly one input, \""
          + PIXELS_INPUT + "\" (FP32 [N, C, H, W]) or \"" + ENCODED_INPUT + "\" (BYTES [N], "
          + "encoded images); the request has " + in.getInputsCount());
    }
    InferInputTensor input = in.getInputs(0);
    boolean raw = in.getRawInputContentsCount() > 0;
    if (raw && in.getRawInputContentsCount() != 1) {
      throw new SalientException.InvalidArgument("raw_input_contents has "
          + in.getRawInputContentsCount() + " entries for 1 input");
    }
    if (raw && input.hasContents()) {
      throw new SalientException.InvalidArgument("input \"" + input.getName() + "\" sets "
          + "contents and the request sets raw_input_contents: use one of them");
    }
    if (input.getName().equals(PIXELS_INPUT)) {
      requireDatatype(input, FP32);
      return pixelImages(input, raw ? in.getRawInputContents(0) : null, model);
    }
    if (input.getName().equals(ENCODED_INPUT)) {
      requireDatatype(input, BYTES);
      return encodedImages(input, raw ? in.getRawInputContents(0) : null);
    }
    throw new SalientException.InvalidArgument("unknown input \"" + input.getName()
        + "\": send \"" + PIXELS_INPUT + "\" (FP32 [N, C, H, W]) or \"" + ENCODED_INPUT
        + "\" (BYTES [N], encoded images); ModelMetadata lists them");
  }

  private static void requireDatatype(InferInputTensor input, String datatype) {
    if (!input.getDatatype().equals(datatype)) {
      throw new SalientException.InvalidArgument("input \"" + input.getName() + "\" has datatype "
          + "\"" + input.getDatatype() + "\"; it must be " + datatype);
    }
  }

  /** FP32 [N, C, H, W] or [C, H, W], from contents or raw little-endian bytes. */
  private static List<Image> pixelImages(InferInputTensor input, ByteString raw,
      ModelPackage model) {
    long[] expected = model.input().shape();
    List<Long> shape = input.getShapeList();
    boolean batched = shape.size() == 4;
    if (!(batched || shape.size() == 3)
        || !shape.subList(batched ? 1 : 0, shape.size()).equals(
            List.of(expected[0], expected[1], expected[2]))
        || (batched && (shape.get(0) < 1 || shape.get(0) > MAX_IMAGES))) {
      throw new SalientException.InvalidArgument("input \"" + PIXELS_INPUT + "\" has shape "
          + shape + "; model " + model.name() + " takes [N, " + expected[0] + ", " + expected[1]
          + ", " + expected[2] + "] with N from 1 to " + MAX_IMAGES);
    }
    int n = batched ? shape.get(0).intValue() : 1;
    int size = model.input().size();
    ByteBuffer data;
    if (raw != null) {
      if (raw.size() != 4L * n * size) {
        throw new SalientException.InvalidArgument("raw_input_contents of \"" + PIXELS_INPUT
            + "\" has " + raw.size() + " bytes; shape " + shape + " of FP32 needs "
            + 4L * n * size);
      }
      data = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    } else {
      InferTensorContents contents = input.getContents();
      if (contents.getFp32ContentsCount() != (long) n * size) {
        throw new SalientException.InvalidArgument("input \"" + PIXELS_INPUT + "\" has "
            + contents.getFp32ContentsCount() + " fp32_contents; shape " + shape + " needs "
            + (long) n * size);
      }
      data = ByteBuffer.allocate(4 * n * size).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < contents.getFp32ContentsCount(); i++) {
        data.putFloat(contents.getFp32Contents(i));
      }
      data.flip();
    }
    List<Image> images = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ByteBuffer one = data.slice(4 * i * size, 4 * size);
      images.add(Image.newBuilder().setTensor(Tensor.newBuilder()
          .addShape(expected[0]).addShape(expected[1]).addShape(expected[2])
          .setData(ByteString.copyFrom(one))).build());
    }
    return images;
  }

  /** BYTES [N] (or [N, 1]): one encoded image per element. */
  private static List<Image> encodedImages(InferInputTensor input, ByteString raw) {
    List<Long> shape = input.getShapeList();
    if (shape.isEmpty() || shape.size() > 2 || (shape.size() == 2 && shape.get(1) != 1)
        || shape.get(0) < 1 || shape.get(0) > MAX_IMAGES) {
      throw new SalientException.InvalidArgument("input \"" + ENCODED_INPUT + "\" has shape "
          + shape + "; it takes [N] (or [N, 1]) encoded images with N from 1 to " + MAX_IMAGES);
    }
    int n = shape.get(0).intValue();
    List<ByteString> elements = raw != null ? lengthPrefixed(raw)
        : input.getContents().getBytesContentsList();
    if (elements.size() != n) {
      throw new SalientException.InvalidArgument("input \"" + ENCODED_INPUT + "\" has "
          + elements.size() + " elements; shape " + shape + " needs " + n);
    }
    return elements.stream().map(e -> Image.newBuilder().setEncoded(e).build()).toList();
  }

  /** The elements of raw BYTES contents: each a 4-byte little-endian length, then the bytes. */
  private static List<ByteString> lengthPrefixed(ByteString raw) {
    ByteBuffer in = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    List<ByteString> elements = new ArrayList<>();
    while (in.hasRemaining()) {
      if (in.remaining() < 4) {
        throw new SalientException.InvalidArgument("raw_input_contents of \"" + ENCODED_INPUT
            + "\" ends inside an element's 4-byte length");
      }
      int length = in.getInt();
      if (length < 0 || length > in.remaining()) {
        throw new SalientException.InvalidArgument("raw_input_contents of \"" + ENCODED_INPUT
            + "\" has an element of " + Integer.toUnsignedLong(length) + " bytes with only "
            + in.remaining() + " left");
      }
      ByteBuffer element = in.slice(in.position(), length);
      elements.add(ByteString.copyFrom(element));
      in.position(in.position() + length);
    }
    return elements;
  }

  /** The outputs asked for, in order; every output when none is named. */
  private static List<String> requestedOutputs(ModelInferRequest in) {
    if (in.getOutputsCount() == 0) {
      return List.of(LOGITS_OUTPUT, PROBABILITIES_OUTPUT);
    }
    List<String> names = new ArrayList<>();
    for (var output : in.getOutputsList()) {
      if (!output.getName().equals(LOGITS_OUTPUT)
          && !output.getName().equals(PROBABILITIES_OUTPUT)) {
        throw new SalientException.InvalidArgument("unknown output \"" + output.getName()
            + "\": the model's outputs are \"" + LOGITS_OUTPUT + "\" and \""
            + PROBABILITIES_OUTPUT + "\"");
      }
      names.add(output.getName());
    }
    return names;
  }

  /** The model {@code name} at {@code version} ("" or "1"), if the caller may use it. */
  private ModelPackage model(String name, String version, Caller caller) {
    if (name.isEmpty()) {
      throw new SalientException.InvalidArgument("the model name is empty: name one of "
          + catalog.all().stream().map(ModelPackage::name).toList());
    }
    ModelPackage model = catalog.require(name);
    if (!version.isEmpty() && !version.equals(VERSION)) {
      throw new SalientException.NotFound("model \"" + name + "\" has no version \"" + version
          + "\"; its only version is \"" + VERSION + "\" (or leave the version empty)");
    }
    caller.requireModel(model.name());
    return model;
  }

  private static String platform(ModelPackage m) {
    return m.format() == ModelPackage.Format.TORCHSCRIPT ? "pytorch_torchscript" : "pytorch_djl";
  }

  private static ByteString littleEndian(float[] values) {
    ByteBuffer out = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      out.putFloat(v);
    }
    return ByteString.copyFrom(out.array());
  }

  private <T> CompletionStage<T> logged(String rpc, String model, Metadata metadata,
      CompletionStage<T> answer) {
    return accessLog.unary(GRPCInferenceService.name + "/" + rpc, model, null,
        Caller.of(metadata), answer);
  }

  private static <T> CompletionStage<T> answer(java.util.function.Supplier<T> body) {
    try {
      return CompletableFuture.completedFuture(body.get());
    } catch (SalientException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
