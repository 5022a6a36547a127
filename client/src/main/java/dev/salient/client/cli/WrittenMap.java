package dev.salient.client.cli;

import java.nio.file.Path;

/**
 * The files written for one result map; {@code png} is null when the server sent no overlay,
 * {@code figure} when it sent no figure.
 */
record WrittenMap(String name, Path png, Path npy, Path figure) {

  /** The files of a map without a figure. */
  WrittenMap(String name, Path png, Path npy) {
    this(name, png, npy, null);
  }
}
