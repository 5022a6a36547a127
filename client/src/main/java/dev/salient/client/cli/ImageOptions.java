package dev.salient.client.cli;

import com.google.protobuf.ByteString;
import dev.salient.client.Npy;
import dev.salient.grpc.Image;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --image FILE [--tensor]} options: which image to send and how. */
final class ImageOptions {

  @Option(
      names = "--image",
      paramLabel = "FILE",
      required = true,
      description = "Image to send: PNG, JPEG, BMP or GIF bytes (or .npy with --tensor).")
  Path file;

  @Option(
      names = "--tensor",
      description =
          "FILE is a NumPy .npy float32 [C,H,W] array of raw pixels in the model's size and range,"
              + " sent as a tensor instead of encoded bytes.")
  boolean tensor;

  /** Reads the file into the request's image; a missing or malformed file is a failure. */
  Image load() {
    try {
      if (tensor) {
        return Image.newBuilder().setTensor(Npy.read(file)).build();
      }
      return Image.newBuilder().setEncoded(ByteString.copyFrom(Files.readAllBytes(file))).build();
    } catch (NoSuchFileException e) {
      throw new CliFailure("cannot read image " + file + ": no such file");
    } catch (IOException | IllegalArgumentException e) {
      throw new CliFailure("cannot read image " + file + ": " + e.getMessage(), e);
    }
  }

  /** The image file's name without its extension, used to name output files. */
  String stem() {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot > 0 ? name.substring(0, dot) : name;
  }
}
