package dev.salient.server.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model package: the parsed {@code model.json} of a model directory (or of a package embedded
 * on the class path), its labels, and where its files are.
 *
 * <p>{@code model.json} follows one schema, {@link ModelManifest}, which the writers of packages
 * use too.
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
    Location location,
    List<ModelManifest.Layer> layers) {

  /** A package that declares no {@code layers}. */
  public ModelPackage(String name, String description, Format format, String architecture,
      String weights, List<String> labels, InputSpec input, String featureLayer,
      Map<String, Double> metrics, Location location) {
    this(name, description, format, architecture, weights, labels, input, featureLayer, metrics,
        location, null);
  }

  /** Copies {@code layers}, which may be null: no layers declared. */
  public ModelPackage {
    layers = layers == null ? null : List.copyOf(layers);
  }

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
    String where = "model package " + location + ": " + ModelManifest.FILE_NAME;
    ModelManifest json;
    try (InputStream in = location.open(ModelManifest.FILE_NAME)) {
      json = ModelManifest.read(in, where);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(
          "model package " + location + " has no model.json: see docs/models.md, 'Bring your own PyTorch model'",
          e);
    } catch (IOException e) {
      throw new IllegalArgumentException(where + " cannot be read: " + e.getMessage(), e);
    }
    Format format = Format.valueOf(json.format().toUpperCase(java.util.Locale.ROOT));
    String weights = json.weights() != null ? json.weights() : "model.pt";
    InputSpec spec = json.toSpec(where);
    List<String> labels = readLabels(location, json.labels());
    if (labels.size() < 2) {
      throw new IllegalArgumentException(
          where + " labels file " + json.labels() + " needs at least 2 labels");
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    if (json.metrics() != null) {
      json.metrics().forEach((key, value) -> {
        if (value != null) {
          metrics.put(key, value.doubleValue());
        }
      });
    }
    return new ModelPackage(
        json.name(),
        Objects.requireNonNullElse(json.description(), ""),
        format,
        json.architecture(),
        weights,
        List.copyOf(labels),
        spec,
        json.featureLayer(),
        Collections.unmodifiableMap(metrics),
        location,
        json.layers());
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
}
