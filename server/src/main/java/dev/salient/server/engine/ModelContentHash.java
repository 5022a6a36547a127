package dev.salient.server.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The SHA-256 of a model package's content, which names the exact model a result came from:
 * model.json, the labels file, the weights file and the two parts of a two-part TorchScript model
 * when present, in that order, each as its file name, a zero byte, its length (8 bytes, big
 * endian) and its bytes. Computed once per package and kept.
 */
public final class ModelContentHash {
  private static final Map<ModelPackage.Location, String> HASHES = new ConcurrentHashMap<>();

  private ModelContentHash() {}

  /** The lower-case hex SHA-256 of {@code model}'s files. */
  public static String of(ModelPackage model) {
    return HASHES.computeIfAbsent(model.location(), location -> compute(model));
  }

  private static String compute(ModelPackage model) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
    byte[] manifest = read(model, ModelManifest.FILE_NAME);
    add(digest, ModelManifest.FILE_NAME, manifest);
    String labels;
    try {
      labels = ModelManifest.read(new java.io.ByteArrayInputStream(manifest),
          "model package " + model.location()).labels();
    } catch (IOException e) {
      throw new UncheckedIOException("model package " + model.location(), e);
    }
    add(digest, labels, read(model, labels));
    for (String file : new java.util.LinkedHashSet<>(List.of(model.weights(),
        TorchScriptTwoPartModel.FEATURES_FILE, TorchScriptTwoPartModel.HEAD_FILE))) {
      try (InputStream in = model.location().open(file)) {
        add(digest, file, in.readAllBytes());
      } catch (NoSuchFileException e) {
        // Not in this package: e.g. a single-part model has no features.pt or head.pt.
      } catch (IOException e) {
        throw new UncheckedIOException("model package " + model.location(), e);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static byte[] read(ModelPackage model, String file) {
    try (InputStream in = model.location().open(file)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("model package " + model.location() + ": " + file, e);
    }
  }

  private static void add(MessageDigest digest, String name, byte[] bytes) {
    digest.update(name.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) 0);
    digest.update(ByteBuffer.allocate(Long.BYTES).putLong(bytes.length).array());
    digest.update(bytes);
  }
}
