/**
 * The vocabulary an explanation is told in, shared by the methods that produce it, the renderer
 * that draws it and the layers that send it: events, maps, tensors and colour scales.
 */
package dev.salient.server.explanation;
