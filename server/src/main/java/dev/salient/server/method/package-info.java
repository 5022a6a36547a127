/** Explanation methods as step-wise state machines over model passes; no gRPC, actors or threads. */
package dev.salient.server.method;
