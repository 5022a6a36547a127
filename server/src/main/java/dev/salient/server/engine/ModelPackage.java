package dev.salient.server.engine;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model package: the parsed {@code model.json} of a model directory (or of a package embedded
 * on the class path), its labels, and where its files are.
 *
 * <p>{@code model.json} fields: {@code name}, {@code description}, {@code format} ("builtin" or
 * "torchscript"), {@code architecture} (builtin only), {@code weights} (file name), {@code labels}
 * (file name, one label per line), {@code input} ({@code channels}, {@code height}, {@code width},
 * {@code pixel_min}, {@code pixel_max}, {@code mean}, {@code std}), {@code feature_layer} (optional:
 * the layer Grad-CAM reads; for a builtin model the 0-based index of a layer of its architecture,
 * for TorchScript the name of the layer at which the model was exported in two parts, {@code
 * features.pt} and {@code head.pt}, which then replace {@code weights}) and {@code metrics}
 * (optional numbers such as {@code test_accuracy}).
 */
public record ModelPackage(
    String name,
    String description,
    Format format,
    String architecture,
    String weights,
    List<String> labels,
    InputSpec input,
    String featureLayer,
    Map<String, Double> metrics,
    Location location) {

  /** How the weights are stored. */
  public enum Format {
    /** A network defined in Java as DJL blocks, weights saved with {@code saveParameters}. */
    BUILTIN,
    /** A TorchScript module exported from PyTorch ({@code torch.jit.trace} or script). */
    TORCHSCRIPT
  }

  /** Where a package's files are: a directory, or a class-path resource folder. */
  public sealed interface Location {
    /** Opens a file of the package by its name in {@code model.json}. */
    InputStream open(String fileName) throws IOException;

    /** A file system path to the file, when the package is a directory. */
    Path path(String fileName);
  }

  /** A package in a directory. */
  public record DirectoryLocation(Path directory) implements Location {
    @Override
    public InputStream open(String fileName) throws IOException {
      return Files.newInputStream(directory.resolve(fileName));
    }

    @Override
    public Path path(String fileName) {
      return directory.resolve(fileName);
    }

    @Override
    public String toString() {
      return directory.toString();
    }
  }

  /** A package embedded in the server's jar (the default model). */
  public record ClasspathLocation(String resourceFolder) implements Location {
    @Override
    public InputStream open(String fileName) throws IOException {
      InputStream in =
          ModelPackage.class.getClassLoader().getResourceAsStream(resourceFolder + "/" + fileName);
      if (in == null) {
        throw new NoSuchFileException("classpath:" + resourceFolder + "/" + fileName);
      }
      return in;
    }

    @Override
    public Path path(String fileName) {
      throw new IllegalStateException(
          "package classpath:" + resourceFolder + " has no file system path; use a directory");
    }

    @Override
    public String toString() {
      return "classpath:" + resourceFolder;
    }
  }

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record InputJson(
      Integer channels,
      Integer height,
      Integer width,
      Float pixelMin,
      Float pixelMax,
      float[] mean,
      float[] std) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record ModelJson(
      String name,
      String description,
      String format,
      String architecture,
      String weights,
      String labels,
      InputJson input,
      String featureLayer,
      Map<String, Double> metrics) {}

  /** Reads the package in {@code directory}. */
  public static ModelPackage read(Path directory) {
    return read(new DirectoryLocation(directory));
  }

  /** Reads a package embedded on the class path under {@code resourceFolder}. */
  public static ModelPackage readResource(String resourceFolder) {
    return read(new ClasspathLocation(resourceFolder));
  }

  /** Reads and validates a package; every problem names the package and the field to fix. */
  public static ModelPackage read(Location location) {
    ModelJson json;
    try (InputStream in = location.open("model.json")) {
      json = JSON.readValue(in, ModelJson.class);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(
          "model package " + location + " has no model.json: see README, 'Bring your own model'",
          e);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "model package " + location + ": model.json is not valid JSON: " + e.getMessage(), e);
    }
    String where = "model package " + location + ": model.json ";
    require(json.name() != null && json.name().matches("[A-Za-z0-9._-]+"), where,
        "needs a \"name\" of letters, digits, '.', '_' or '-'");
    require(json.format() != null, where, "needs \"format\": \"builtin\" or \"torchscript\"");
    Format format;
    try {
      format = Format.valueOf(json.format().toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          where + "\"format\" must be \"builtin\" or \"torchscript\", not \"" + json.format() + "\"");
    }
    require(format != Format.BUILTIN || json.architecture() != null, where,
        "needs \"architecture\" for a builtin model");
    String weights = json.weights() != null ? json.weights()
        : format == Format.TORCHSCRIPT ? "model.pt" : null;
    require(weights != null, where, "needs \"weights\" (the weights file name)");
    require(json.labels() != null, where, "needs \"labels\" (a file with one label per line)");
    InputJson in = json.input();
    require(in != null && in.channels() != null && in.height() != null && in.width() != null,
        where, "needs \"input\": {\"channels\", \"height\", \"width\", ...}");
    int channels = in.channels();
    float[] mean = in.mean() != null ? in.mean() : new float[channels];
    float[] std = in.std() != null ? in.std() : filled(channels, 1f);
    InputSpec spec;
    try {
      spec = new InputSpec(channels, in.height(), in.width(),
          in.pixelMin() != null ? in.pixelMin() : 0f, in.pixelMax() != null ? in.pixelMax() : 1f,
          mean, std);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + "\"input\": " + e.getMessage(), e);
    }
    List<String> labels = readLabels(location, json.labels());
    require(labels.size() >= 2, where, "labels file " + json.labels() + " needs at least 2 labels");
    return new ModelPackage(
        json.name(),
        Objects.requireNonNullElse(json.description(), ""),
        format,
        json.architecture(),
        weights,
        List.copyOf(labels),
        spec,
        json.featureLayer(),
        json.metrics() == null ? Map.of() : Map.copyOf(json.metrics()),
        location);
  }

  /** Number of classes. */
  public int numClasses() {
    return labels.size();
  }

  private static List<String> readLabels(Location location, String file) {
    try (InputStream in = location.open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .lines()
          .map(String::strip)
          .filter(line -> !line.isEmpty())
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "model package " + location + ": cannot read labels file " + file, e);
    }
  }

  private static float[] filled(int n, float value) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, value);
    return a;
  }

  private static void require(boolean ok, String where, String what) {
    if (!ok) {
      throw new IllegalArgumentException(where + what);
    }
  }
}
