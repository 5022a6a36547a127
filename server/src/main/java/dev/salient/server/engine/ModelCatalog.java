package dev.salient.server.engine;

import dev.salient.server.util.SalientException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The model packages a server serves, by name; the first is the default. Immutable. */
public final class ModelCatalog {
  /** Class-path folder of the embedded default model. */
  public static final String DEFAULT_MODEL_RESOURCE = "models/fashion-mnist";

  private final Map<String, ModelPackage> models = new LinkedHashMap<>();

  /** A catalog of {@code packages}; the first is the default. */
  public ModelCatalog(List<ModelPackage> packages) {
    if (packages.isEmpty()) {
      throw new IllegalArgumentException("a server needs at least one model");
    }
    for (ModelPackage p : packages) {
      if (models.put(p.name(), p) != null) {
        throw new IllegalArgumentException("two model packages are named " + p.name()
            + "; names in model.json must be unique");
      }
    }
  }

  /** The embedded default model only. */
  public static ModelCatalog embeddedDefault() {
    return new ModelCatalog(List.of(ModelPackage.readResource(DEFAULT_MODEL_RESOURCE)));
  }

  /**
   * The packages under {@code directory} (the directory itself if it has a model.json, else each
   * subdirectory that has one, in name order), after the embedded default unless
   * {@code includeDefault} is false.
   */
  public static ModelCatalog load(Path directory, boolean includeDefault) {
    List<ModelPackage> packages = new ArrayList<>();
    if (includeDefault) {
      packages.add(ModelPackage.readResource(DEFAULT_MODEL_RESOURCE));
    }
    if (Files.isRegularFile(directory.resolve("model.json"))) {
      packages.add(ModelPackage.read(directory));
    } else if (Files.isDirectory(directory)) {
      try (Stream<Path> dirs = Files.list(directory)) {
        dirs.filter(d -> Files.isRegularFile(d.resolve("model.json")))
            .sorted()
            .forEach(d -> packages.add(ModelPackage.read(d)));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list model directory " + directory, e);
      }
    } else {
      throw new IllegalArgumentException("model directory " + directory + " does not exist");
    }
    return new ModelCatalog(packages);
  }

  /** All packages, default first. */
  public List<ModelPackage> all() {
    return List.copyOf(models.values());
  }

  /** The default model. */
  public ModelPackage defaultModel() {
    return models.values().iterator().next();
  }

  /**
   * The model {@code name}; an empty name means the default.
   *
   * @throws SalientException.NotFound naming the models there are
   */
  public ModelPackage require(String name) {
    if (name == null || name.isEmpty()) {
      return defaultModel();
    }
    ModelPackage p = models.get(name);
    if (p == null) {
      throw new SalientException.NotFound(
          "model \"" + name + "\" is not served here; ListModels gives " + models.keySet());
    }
    return p;
  }
}
