/** Video IO of the live-video client: frames in from files, annotated frames out, pacing. */
package dev.salient.client.video;
