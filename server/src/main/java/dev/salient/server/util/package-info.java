/** Failures shared across layers. */
package dev.salient.server.util;
