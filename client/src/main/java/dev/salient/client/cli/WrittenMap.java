package dev.salient.client.cli;

import java.nio.file.Path;

/** The files written for one result map; {@code png} is null when the server sent no overlay. */
record WrittenMap(String name, Path png, Path npy) {}
