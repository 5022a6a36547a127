/** The model engine: model packages, loading onto a device, and forward / input-gradient passes. */
package dev.salient.server.engine;
