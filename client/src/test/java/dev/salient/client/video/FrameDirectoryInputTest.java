package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FrameDirectoryInputTest {

  @TempDir Path dir;

  @Test
  void readsTheImagesInFileNameOrderAtThirtyFramesPerSecond() throws Exception {
    // setup: written out of order, in three formats, with a file that is not an image
    write(3, "frame_03.bmp", "bmp");
    write(0, "frame_00.png", "png");
    write(2, "frame_02.png", "png");
    write(1, "frame_01.jpg", "jpg");
    Files.writeString(dir.resolve("README.txt"), "not a frame");

    // run
    List<InputFrame> frames = new ArrayList<>();
    double fps;
    try (VideoInput input = VideoInput.open(dir, OptionalDouble.empty())) {
      fps = input.frameRate();
      for (Optional<InputFrame> f = input.next(); f.isPresent(); f = input.next()) {
        frames.add(f.get());
      }
    }

    // verify
    assertEquals(30, fps);
    assertEquals(4, frames.size());
    for (int i = 0; i < 4; i++) {
      assertEquals(2 * i + 3.5, TestVideos.squareCentreX(frames.get(i).image()), 1.0);
      assertEquals(Math.round(i * 1e6 / 30), frames.get(i).timestampUs());
    }
  }

  @Test
  void aGivenRateSetsTheTimestamps() throws Exception {
    write(0, "a.png", "png");
    write(1, "b.png", "png");

    try (VideoInput input = VideoInput.open(dir, OptionalDouble.of(4))) {
      assertEquals(4, input.frameRate());
      input.next();
      assertEquals(250_000, input.next().orElseThrow().timestampUs());
    }
  }

  @Test
  void open_errorOnADirectoryWithoutImages() throws Exception {
    Files.writeString(dir.resolve("README.txt"), "not a frame");

    assertThrows(IOException.class, () -> VideoInput.open(dir, OptionalDouble.empty()));
  }

  private void write(int i, String name, String format) throws IOException {
    BufferedImage image = TestVideos.frame(i, 40, 20);
    if (!ImageIO.write(image, format, dir.resolve(name).toFile())) {
      throw new IOException("no writer for " + format);
    }
  }
}
