package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.NodeList;

class VideoOutputTest {

  @TempDir Path dir;

  @Test
  void anMp4ReadsBackWithItsFramesAndRate() throws Exception {
    // setup: an odd size, which the writer rounds up to even
    Path mp4 = dir.resolve("out.mp4");

    // run
    try (VideoOutput out = VideoOutput.open(mp4, 63, 31, 15)) {
      for (int i = 0; i < 20; i++) {
        out.write(TestVideos.frame(i, 63, 31));
      }
      assertEquals(20, out.frames());
    }

    // verify
    try (VideoInput in = VideoInput.open(mp4, OptionalDouble.empty())) {
      assertEquals(15, in.frameRate(), 0.01);
      int n = 0;
      for (Optional<InputFrame> f = in.next(); f.isPresent(); f = in.next()) {
        assertEquals(64, f.get().image().getWidth());
        assertEquals(32, f.get().image().getHeight());
        assertEquals(2 * n + 3.5, TestVideos.squareCentreX(f.get().image()), 1.0);
        n++;
      }
      assertEquals(20, n);
    }
  }

  @Test
  void aGifReadsBackWithItsFramesDelayAndLoop() throws Exception {
    Path gif = dir.resolve("out.gif");

    try (VideoOutput out = VideoOutput.open(gif, 40, 20, 10)) {
      for (int i = 0; i < 12; i++) {
        out.write(TestVideos.frame(i, 40, 20));
      }
    }

    ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
    try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
      reader.setInput(in);
      assertEquals(12, reader.getNumImages(true));
      BufferedImage last = reader.read(11);
      assertEquals(2 * 11 + 3.5, TestVideos.squareCentreX(last), 1.0);
      IIOMetadataNode first =
          (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_gif_image_1.0");
      IIOMetadataNode control =
          (IIOMetadataNode) first.getElementsByTagName("GraphicControlExtension").item(0);
      assertEquals("10", control.getAttribute("delayTime"));
      NodeList apps = first.getElementsByTagName("ApplicationExtension");
      assertEquals("NETSCAPE", ((IIOMetadataNode) apps.item(0)).getAttribute("applicationID"));
    } finally {
      reader.dispose();
    }
  }

  @Test
  void open_errorOnAnUnsupportedExtension() {
    assertThrows(
        IllegalArgumentException.class, () -> VideoOutput.open(dir.resolve("x.avi"), 8, 8, 30));
  }
}
