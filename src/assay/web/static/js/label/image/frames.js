// Where a video task's frames come from: a list of frame images (`params.frames`, or
// Scale's `params.attachments`), a video file (`params.attachment`, seeked frame by frame at
// `params.fps`), or a single image shown on every frame. Frames load lazily around the one
// on screen; `onReady(frame)` says when a requested frame can be drawn.

const PRELOAD_AHEAD = 8;

function frameUrls(params) {
  const list = Array.isArray(params?.frames) ? params.frames : Array.isArray(params?.attachments) ? params.attachments : null;
  if (!list?.length) return null;
  const urls = list.map((item) => (typeof item === "string" ? item : item?.url || item?.attachment)).filter((u) => typeof u === "string");
  return urls.length ? urls : null;
}

export class FrameSource {
  constructor(params, { onReady, onSize, onError }) {
    this.params = params || {};
    this.onReady = onReady;
    this.onSize = onSize;
    this.onError = onError;
    this.images = new Map();
    this.urls = frameUrls(this.params);
    const declared = Number(this.params.frame_count);
    this.count = Number.isInteger(declared) && declared > 0 ? declared : this.urls?.length || 1;
    this.fps = Number(this.params.fps) > 0 ? Number(this.params.fps) : null;
    this.current = 0;
    this.kind = this.urls ? "frames" : "single";
    this.single = null;
    this.video = null;
    this.videoFrame = -1;
    if (!this.urls) this.loadSingle(this.params.attachment);
  }

  // --- a list of frame images ---

  frameImage(frame) {
    if (!this.urls) return null;
    const url = this.urls[Math.min(frame, this.urls.length - 1)];
    let image = this.images.get(url);
    if (!image) {
      image = new Image();
      image.decoding = "async";
      image.addEventListener("load", () => {
        this.sized(image.naturalWidth, image.naturalHeight);
        if (this.urls.indexOf(url) === Math.min(this.current, this.urls.length - 1)) this.onReady(this.current);
      });
      image.addEventListener("error", () => this.onError?.(`Frame ${frame + 1} could not be loaded.`));
      image.src = url;
      this.images.set(url, image);
    }
    return image;
  }

  // --- one attachment: an image (every frame) or a video ---

  loadSingle(url) {
    if (!url) {
      this.onError?.("This task has no video or frames.");
      return;
    }
    const image = new Image();
    image.decoding = "async";
    image.addEventListener("load", () => {
      this.kind = "single";
      this.single = image;
      this.sized(image.naturalWidth, image.naturalHeight);
      this.onReady(this.current);
    });
    image.addEventListener("error", () => this.loadVideo(url));
    image.src = url;
  }

  loadVideo(url) {
    const video = document.createElement("video");
    video.muted = true;
    video.preload = "auto";
    video.playsInline = true;
    video.addEventListener("loadedmetadata", () => {
      this.kind = "video";
      this.video = video;
      if (!this.fps && video.duration > 0) this.fps = this.count / video.duration;
      this.sized(video.videoWidth, video.videoHeight);
      this.seek(this.current);
    });
    video.addEventListener("seeked", () => {
      this.videoFrame = this.seeking;
      this.onReady(this.videoFrame);
    });
    video.addEventListener("error", () => this.onError?.("The video could not be loaded."));
    video.src = url;
  }

  seek(frame) {
    const video = this.video;
    if (!video) return;
    this.seeking = frame;
    const fps = this.fps || 25;
    video.currentTime = Math.min((frame + 0.5) / fps, Math.max(0, (video.duration || 0) - 0.001));
  }

  sized(width, height) {
    if (!this.naturalSize && width && height) {
      this.naturalSize = { width, height };
      this.onSize?.(this.naturalSize);
    }
  }

  // --- the frame on screen ---

  show(frame) {
    this.current = frame;
    if (this.kind === "frames") {
      this.frameImage(frame);
      for (let f = frame + 1; f <= Math.min(frame + PRELOAD_AHEAD, this.count - 1); f++) this.frameImage(f);
    } else if (this.kind === "video" && this.videoFrame !== frame) {
      this.seek(frame);
    }
  }

  // Draw the current frame scaled to `size`; false while it is still loading.
  draw(ctx, size) {
    let source = null;
    if (this.kind === "frames") {
      const image = this.frameImage(this.current);
      if (image?.complete && image.naturalWidth) source = image;
    } else if (this.kind === "video") {
      if (this.videoFrame >= 0) source = this.video;
    } else if (this.single) {
      source = this.single;
    }
    if (!source) return false;
    ctx.drawImage(source, 0, 0, size.width, size.height);
    return true;
  }
}
