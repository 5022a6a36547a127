package dev.salient.client.video;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.FileImageOutputStream;
import javax.imageio.stream.ImageOutputStream;

/**
 * An animated GIF written by the JDK's GIF writer: one local palette per frame (the writer
 * quantises each RGB frame itself), a fixed delay and an endless loop.
 */
public final class GifVideoOutput implements VideoOutput {

  private static final String FORMAT = "javax_imageio_gif_image_1.0";

  private final ImageWriter writer;
  private final ImageOutputStream stream;
  private final int width;
  private final int height;
  private final int delayCentiseconds;
  private int frames;
  private boolean closed;

  private GifVideoOutput(
      ImageWriter writer, ImageOutputStream stream, int width, int height, int delay) {
    this.writer = writer;
    this.stream = stream;
    this.width = width;
    this.height = height;
    this.delayCentiseconds = delay;
  }

  /** Starts the GIF; the delay per frame is 1/fps rounded to GIF's hundredths of a second. */
  public static GifVideoOutput open(Path file, int width, int height, double fps)
      throws IOException {
    if (width < 1 || height < 1 || !(fps > 0)) {
      throw new IllegalArgumentException(
          "bad video size or rate: " + width + "x" + height + " at " + fps);
    }
    Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("gif");
    if (!writers.hasNext()) {
      throw new IOException("this JDK has no GIF writer");
    }
    ImageWriter writer = writers.next();
    // Viewers play delays under 2/100 s at 10/100 s: 2 is the fastest that plays as written.
    int delay = (int) Math.max(2, Math.round(100 / fps));
    // A file stream writes over an existing file without truncating it: start from none.
    Files.deleteIfExists(file);
    ImageOutputStream stream = new FileImageOutputStream(file.toFile());
    try {
      writer.setOutput(stream);
      writer.prepareWriteSequence(null);
    } catch (IOException | RuntimeException e) {
      stream.close();
      writer.dispose();
      throw e;
    }
    return new GifVideoOutput(writer, stream, width, height, delay);
  }

  @Override
  public void write(BufferedImage frame) throws IOException {
    if (closed) {
      throw new IOException("the GIF output is closed");
    }
    BufferedImage fitted = Frames.fitted(frame, width, height, BufferedImage.TYPE_INT_RGB);
    IIOMetadata metadata =
        writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(fitted), null);
    IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(FORMAT);
    IIOMetadataNode control = child(root, "GraphicControlExtension");
    control.setAttribute("disposalMethod", "none");
    control.setAttribute("userInputFlag", "FALSE");
    control.setAttribute("transparentColorFlag", "FALSE");
    control.setAttribute("delayTime", Integer.toString(delayCentiseconds));
    control.setAttribute("transparentColorIndex", "0");
    if (frames == 0) {
      IIOMetadataNode extensions = child(root, "ApplicationExtensions");
      IIOMetadataNode loop = new IIOMetadataNode("ApplicationExtension");
      loop.setAttribute("applicationID", "NETSCAPE");
      loop.setAttribute("authenticationCode", "2.0");
      // Sub-block 1, loop count 0 (little-endian): play forever.
      loop.setUserObject(new byte[] {1, 0, 0});
      extensions.appendChild(loop);
    }
    metadata.setFromTree(FORMAT, root);
    writer.writeToSequence(new IIOImage(fitted, null, metadata), null);
    frames++;
  }

  @Override
  public int frames() {
    return frames;
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      writer.endWriteSequence();
    } finally {
      try {
        stream.close();
      } finally {
        writer.dispose();
      }
    }
  }

  private static IIOMetadataNode child(IIOMetadataNode root, String name) {
    for (int i = 0; i < root.getLength(); i++) {
      if (root.item(i).getNodeName().equalsIgnoreCase(name)) {
        return (IIOMetadataNode) root.item(i);
      }
    }
    IIOMetadataNode node = new IIOMetadataNode(name);
    root.appendChild(node);
    return node;
  }
}
