package dev.salient.client.cli;

import java.nio.file.Path;

/**
 * The outcome of a video run.
 *
 * @param framesIn frames sent
 * @param framesOut frames answered with an explanation
 * @param dropped frames answered as dropped
 * @param p50Ms median latency of the explained frames (send to answer, client clock); NaN if none
 * @param p99Ms 99th percentile of the same; NaN if none
 * @param fps explained frames per second, from the first send to the last answer
 * @param seconds that span, in seconds
 * @param out the annotated video written, or null
 */
record VideoSummary(
    long framesIn,
    long framesOut,
    long dropped,
    double p50Ms,
    double p99Ms,
    double fps,
    double seconds,
    Path out) {}
