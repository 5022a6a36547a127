package dev.salient.client.video;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/** A directory of image files (PNG, JPEG, BMP, GIF) read as frames in file-name order. */
public final class FrameDirectoryInput implements VideoInput {

  /** The frame rate of a directory when none is given. */
  public static final double DEFAULT_FPS = 30;

  private static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif");

  private final List<Path> files;
  private final double fps;
  private int index;

  private FrameDirectoryInput(List<Path> files, double fps) {
    this.files = files;
    this.fps = fps;
  }

  /** Lists the images of {@code dir}; fails if it holds none. */
  public static FrameDirectoryInput open(Path dir, double fps) throws IOException {
    if (!(fps > 0) || Double.isInfinite(fps)) {
      throw new IllegalArgumentException("frame rate must be positive, got " + fps);
    }
    List<Path> files;
    try (Stream<Path> listing = Files.list(dir)) {
      files =
          listing
              .filter(p -> Files.isRegularFile(p) && EXTENSIONS.contains(extension(p)))
              .sorted()
              .collect(Collectors.toList());
    }
    if (files.isEmpty()) {
      throw new IOException("no image files (png, jpg, bmp, gif) in " + dir);
    }
    return new FrameDirectoryInput(files, fps);
  }

  /** How many frames the directory holds. */
  public int size() {
    return files.size();
  }

  @Override
  public double frameRate() {
    return fps;
  }

  @Override
  public synchronized Optional<InputFrame> next() throws IOException {
    if (index >= files.size()) {
      return Optional.empty();
    }
    Path file = files.get(index);
    BufferedImage image = ImageIO.read(file.toFile());
    if (image == null) {
      throw new IOException("cannot decode " + file);
    }
    long timestampUs = Math.round(index * 1e6 / fps);
    index++;
    return Optional.of(new InputFrame(image, timestampUs));
  }

  @Override
  public synchronized void close() {
    index = files.size();
  }

  private static String extension(Path p) {
    String name = p.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
  }
}
