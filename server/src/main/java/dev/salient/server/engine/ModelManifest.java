package dev.salient.server.engine;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The schema of {@code model.json}, the manifest of a model package: what the loader
 * ({@link ModelPackage}) reads and what the writers ({@link RandomWeights}, the trainer of the
 * tools module) write, so that both sides share one definition.
 *
 * <p>Fields (snake_case in the file): {@code name} (required: letters, digits, '.', '_', '-'),
 * {@code description}, {@code format} (required: "builtin" or "torchscript"), {@code
 * architecture} (required for builtin), {@code weights} (the weights file; required for builtin,
 * "model.pt" by default for torchscript), {@code labels} (required: a file with one label per
 * line), {@code input} (required: {@code channels}, {@code height}, {@code width}; optional {@code
 * pixel_min} 0, {@code pixel_max} 1, {@code mean} zeros, {@code std} ones), {@code preprocessing}
 * (optional: how an encoded image is resized to the input, see {@link ImagePreprocessing}),
 * {@code feature_layer}
 * (optional: the layer Grad-CAM reads; for a builtin model the 0-based index of a layer of its
 * architecture, for TorchScript the name of the layer at which the model was exported in two
 * parts, {@code features.pt} and {@code head.pt}, which then replace {@code weights}), {@code
 * metrics} (optional numbers such as {@code test_accuracy}) and {@code training} (optional: how
 * the trainer made the weights) and {@code layers} (optional, TorchScript only: the module's
 * layers in order, so that the white-box methods can walk it; see {@link Layer}). Unknown fields
 * are ignored; fields left null are not written.
 *
 * <p>Numbers the writers give as decimals ({@code mean}, {@code std}, {@code metrics}) are kept as
 * {@link BigDecimal}, so "0.2860" is written back as 0.2860.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelManifest(
    String name,
    String description,
    String format,
    String architecture,
    String weights,
    String labels,
    Input input,
    ImagePreprocessing preprocessing,
    String featureLayer,
    Map<String, BigDecimal> metrics,
    Training training,
    List<Layer> layers) {

  /** A manifest without {@code layers}: a model the white-box methods cannot walk. */
  public ModelManifest(
      String name,
      String description,
      String format,
      String architecture,
      String weights,
      String labels,
      Input input,
      ImagePreprocessing preprocessing,
      String featureLayer,
      Map<String, BigDecimal> metrics,
      Training training) {
    this(name, description, format, architecture, weights, labels, input, preprocessing,
        featureLayer, metrics, training, null);
  }

  /** A manifest without {@code preprocessing} (the defaults of {@link Preprocessing#DEFAULT}). */
  public ModelManifest(
      String name,
      String description,
      String format,
      String architecture,
      String weights,
      String labels,
      Input input,
      String featureLayer,
      Map<String, BigDecimal> metrics,
      Training training) {
    this(name, description, format, architecture, weights, labels, input, null, featureLayer,
        metrics, training, null);
  }

  /** The file name of the manifest in a model package. */
  public static final String FILE_NAME = "model.json";

  /** {@code format} of a network defined in Java as DJL blocks. */
  public static final String BUILTIN = "builtin";

  /** {@code format} of a TorchScript module exported from PyTorch. */
  public static final String TORCHSCRIPT = "torchscript";

  /** The input images the model takes; {@code mean} and {@code std} per channel. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Input(
      Integer channels,
      Integer height,
      Integer width,
      Double pixelMin,
      Double pixelMax,
      List<BigDecimal> mean,
      List<BigDecimal> std) {

    /** The manifest's view of {@code spec}, every field written. */
    public static Input of(InputSpec spec) {
      return new Input(spec.channels(), spec.height(), spec.width(), (double) spec.pixelMin(),
          (double) spec.pixelMax(), decimals(spec.mean()), decimals(spec.std()));
    }

    /** The input specification, with the defaults for the optional fields. */
    public InputSpec toSpec() {
      return new InputSpec(channels, height, width,
          pixelMin != null ? pixelMin.floatValue() : 0f,
          pixelMax != null ? pixelMax.floatValue() : 1f,
          mean != null ? floats(mean) : new float[channels],
          std != null ? floats(std) : ones(channels));
    }
  }

  /**
   * The {@code preprocessing} object: {@code resize} ("bilinear", "bicubic", "area" or "nearest";
   * default "bilinear"), {@code crop} ("none" stretches to the input size, "center" resizes the
   * short side to {@code resize_short_side} and cuts out the centre; default "center" when
   * {@code resize_short_side} is given, else "none") and {@code color_management} ("none" or
   * "icc_to_srgb"; default "none"). Absent fields take their defaults.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record ImagePreprocessing(
      String resize, Integer resizeShortSide, String crop, String colorManagement) {

    /** The manifest's view of {@code preprocessing}, every field written. */
    public static ImagePreprocessing of(Preprocessing preprocessing) {
      return new ImagePreprocessing(
          preprocessing.resize().manifestName(),
          preprocessing.crop() == Preprocessing.Crop.CENTER
              ? preprocessing.resizeShortSide() : null,
          preprocessing.crop().manifestName(),
          preprocessing.colorManagement().manifestName());
    }

    /**
     * The preprocessing, with the defaults for absent fields.
     *
     * @throws IllegalArgumentException naming the field and its allowed values
     */
    public Preprocessing toPreprocessing() {
      Preprocessing.Crop cropMode = crop != null
          ? Preprocessing.parse(Preprocessing.Crop.class, "crop", crop)
          : resizeShortSide != null ? Preprocessing.Crop.CENTER : Preprocessing.Crop.NONE;
      return new Preprocessing(
          resize != null
              ? Preprocessing.parse(Preprocessing.Filter.class, "resize", resize)
              : Preprocessing.DEFAULT.resize(),
          resizeShortSide != null ? resizeShortSide : 0,
          cropMode,
          colorManagement != null
              ? Preprocessing.parse(
                  Preprocessing.ColorManagement.class, "color_management", colorManagement)
              : Preprocessing.DEFAULT.colorManagement());
    }
  }

  /**
   * One layer of a TorchScript module as {@code layers} declares it: {@code kind} ("conv", "relu",
   * "max_pool", "avg_pool" (global average pooling), "flatten" or "linear"); for "conv" and "linear" {@code parameters}, the prefix of
   * the module's parameters ({@code features.0} for {@code features.0.weight} and {@code
   * features.0.bias}; in a two-part export, the part's file name without ".pt" comes first, as in
   * {@code head.1}); for "conv" {@code stride} (1) and {@code padding} (0); for "max_pool" {@code
   * size}, its window and stride. The kernel and channel counts come from the weights.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Layer(String kind, String parameters, Integer stride, Integer padding,
      Integer size) {

    /** The kinds {@code kind} may name, as written in the file. */
    public static final List<String> KINDS =
        List.of("conv", "relu", "max_pool", "avg_pool", "flatten", "linear");

    /**
     * Checks the fields of layer {@code index}.
     *
     * @throws IllegalArgumentException naming the layer and the field to fix
     */
    void validate(String where, int index) {
      String layer = where + "\"layers\"[" + index + "] ";
      require(kind != null && KINDS.contains(kind), layer,
          "needs a \"kind\" of " + KINDS + ", not " + (kind == null ? "none" : "\"" + kind + "\""));
      boolean weighted = kind.equals("conv") || kind.equals("linear");
      require(!weighted || (parameters != null && !parameters.isBlank()), layer,
          "(" + kind + ") needs \"parameters\": the prefix of its weight and bias in the module, "
              + "e.g. \"features.0\"");
      require(weighted || parameters == null, layer,
          "(" + kind + ") has no weights, so no \"parameters\"");
      require(kind.equals("conv") || (stride == null && padding == null), layer,
          "(" + kind + ") takes no \"stride\" or \"padding\"; only a conv does");
      require(stride == null || stride >= 1, layer, "needs a \"stride\" of at least 1");
      require(padding == null || padding >= 0, layer, "needs a \"padding\" of at least 0");
      require(!kind.equals("max_pool") || (size != null && size >= 1), layer,
          "(max_pool) needs \"size\", its window and stride, of at least 1");
      require(kind.equals("max_pool") || size == null, layer,
          "(" + kind + ") takes no \"size\"; only a max_pool does");
    }
  }

  /** How the trainer made the weights (written by {@code ./salient train}, not read). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Training(
      String dataset,
      Integer epochs,
      Integer batchSize,
      String optimizer,
      Double learningRate,
      Integer seed,
      String command) {}

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
          .enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * Reads and validates {@code file}; a missing file, invalid JSON or a missing or invalid field
   * throws {@link IllegalArgumentException} naming the file and the field.
   */
  public static ModelManifest read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException(file + " does not exist", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads and validates a manifest from {@code in}; {@code source} names it in errors (a file,
   * or "model package X: model.json").
   */
  public static ModelManifest read(InputStream in, String source) throws IOException {
    ModelManifest manifest;
    try {
      manifest = JSON.readValue(in, ModelManifest.class);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new IllegalArgumentException(
          source + " is not valid JSON of a model manifest: " + e.getOriginalMessage(), e);
    }
    if (manifest == null) {
      throw new IllegalArgumentException(source + " is empty");
    }
    manifest.validate(source);
    return manifest;
  }

  /** Writes this manifest to {@code file} (indented, null fields left out). */
  public void write(Path file) throws IOException {
    validate(file.toString());
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    JSON.writeValue(file.toFile(), this);
  }

  /**
   * Checks the required fields; each problem names {@code source} and the field to fix.
   *
   * @throws IllegalArgumentException on the first problem
   */
  public void validate(String source) {
    String where = source + " ";
    require(name != null, where, "needs \"name\"");
    require(name.matches("[A-Za-z0-9._-]+"), where,
        "needs a \"name\" of letters, digits, '.', '_' or '-', not \"" + name + "\"");
    require(format != null, where, "needs \"format\": \"builtin\" or \"torchscript\"");
    require(BUILTIN.equals(format.toLowerCase(Locale.ROOT))
        || TORCHSCRIPT.equals(format.toLowerCase(Locale.ROOT)), where,
        "\"format\" must be \"builtin\" or \"torchscript\", not \"" + format + "\"");
    boolean builtin = BUILTIN.equals(format.toLowerCase(Locale.ROOT));
    require(!builtin || architecture != null, where, "needs \"architecture\" for a builtin model");
    require(!builtin || weights != null, where,
        "needs \"weights\" (the weights file name) for a builtin model");
    require(labels != null, where, "needs \"labels\" (a file with one label per line)");
    require(input != null, where, "needs \"input\": {\"channels\", \"height\", \"width\", ...}");
    require(input.channels() != null, where, "needs \"input\".\"channels\"");
    require(input.height() != null, where, "needs \"input\".\"height\"");
    require(input.width() != null, where, "needs \"input\".\"width\"");
    require(layers == null || !builtin, where, "declares \"layers\", which only a torchscript "
        + "model needs: a builtin architecture's layers are known");
    require(layers == null || !layers.isEmpty(), where, "declares no \"layers\"; leave it out");
    if (layers != null) {
      for (int i = 0; i < layers.size(); i++) {
        require(layers.get(i) != null, where, "\"layers\"[" + i + "] is null");
        layers.get(i).validate(where, i);
      }
    }
    toSpec(where);
  }

  /**
   * The input specification with its preprocessing (defaults for absent fields).
   *
   * @throws IllegalArgumentException naming {@code source} and the field to fix
   */
  public InputSpec toSpec(String source) {
    String where = source.endsWith(" ") ? source : source + " ";
    Preprocessing steps;
    try {
      steps = preprocessing != null ? preprocessing.toPreprocessing() : Preprocessing.DEFAULT;
      steps.checkFits(input.height(), input.width());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + "\"preprocessing\": " + e.getMessage(), e);
    }
    try {
      return input.toSpec().withPreprocessing(steps);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + "\"input\": " + e.getMessage(), e);
    }
  }

  private static void require(boolean ok, String where, String what) {
    if (!ok) {
      throw new IllegalArgumentException(where + what);
    }
  }

  private static List<BigDecimal> decimals(float[] values) {
    List<BigDecimal> list = new ArrayList<>(values.length);
    for (float v : values) {
      list.add(new BigDecimal(Float.toString(v)));
    }
    return list;
  }

  private static float[] floats(List<BigDecimal> values) {
    float[] a = new float[values.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = values.get(i).floatValue();
    }
    return a;
  }

  private static float[] ones(int n) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, 1f);
    return a;
  }
}
