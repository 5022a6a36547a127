/** The gRPC layer: thin services that translate salient.v1 messages to domain orders and back. */
package dev.salient.server.grpc;
