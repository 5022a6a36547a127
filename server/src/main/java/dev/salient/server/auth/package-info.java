/** Bearer tokens: the tokens file, its reloading, and minting new tokens; nothing of gRPC. */
package dev.salient.server.auth;
