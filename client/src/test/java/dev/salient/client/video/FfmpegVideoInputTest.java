package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FfmpegVideoInputTest {

  @TempDir Path dir;

  @Test
  void readsEveryFrameOfAnMp4InOrderWithItsRateAndTimestamps() throws Exception {
    // setup
    Path mp4 = TestVideos.movingSquareMp4(dir.resolve("square.mp4"), 36, 12, 96, 48);

    // run
    List<InputFrame> frames = new ArrayList<>();
    double fps;
    try (VideoInput input = VideoInput.open(mp4, OptionalDouble.empty())) {
      fps = input.frameRate();
      for (Optional<InputFrame> f = input.next(); f.isPresent(); f = input.next()) {
        frames.add(f.get());
      }
    }

    // verify
    assertEquals(12, fps, 0.01);
    assertEquals(36, frames.size());
    for (int i = 0; i < frames.size(); i++) {
      InputFrame f = frames.get(i);
      assertEquals(96, f.image().getWidth());
      assertEquals(48, f.image().getHeight());
      assertEquals(i * 1_000_000.0 / 12, f.timestampUs(), 1_000, "timestamp of frame " + i);
      // The square moves 2 px per frame: frame i's centre is at 2 i + 3.5.
      assertEquals(2 * i + 3.5, TestVideos.squareCentreX(f.image()), 1.0, "square in frame " + i);
    }
  }

  @Test
  void aGivenRateReplacesTheFilesAndRetimesTheFrames() throws Exception {
    Path mp4 = TestVideos.movingSquareMp4(dir.resolve("square.mp4"), 4, 12, 32, 16);

    try (VideoInput input = VideoInput.open(mp4, OptionalDouble.of(50))) {
      assertEquals(50, input.frameRate());
      input.next();
      assertEquals(20_000, input.next().orElseThrow().timestampUs());
    }
  }

  @Test
  void open_errorOnAFileThatIsNoVideo() throws Exception {
    Path text = Files.writeString(dir.resolve("notes.mp4"), "not a video");

    IOException e =
        assertThrows(IOException.class, () -> VideoInput.open(text, OptionalDouble.empty()));
    assertTrue(e.getMessage().contains("cannot decode"), e.getMessage());
  }
}
