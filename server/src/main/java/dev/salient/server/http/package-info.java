/** The HTTP/JSON API (KServe V1, Server-Sent Events, a WebSocket for video) and the web viewer, over the gRPC service. */
package dev.salient.server.http;
