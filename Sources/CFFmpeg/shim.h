#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavdevice/avdevice.h>

/*
 * Small C layer over FFmpeg for ADNNVideo.
 *
 * FFmpeg's error codes (AVERROR(EAGAIN), AVERROR_EOF), AV_NOPTS_VALUE and the data[8]/linesize[8]
 * arrays of AVFrame are macros or fixed arrays that Swift imports badly, so the decode and encode
 * loops live here. Every function returns 0 (or 1 for "a frame was produced") on success and a
 * negative value on failure, with a one-line reason in the object's `message`.
 */

#define ADNN_FF_MESSAGE 320

/// Silences FFmpeg's own logging (it would add lines to our one-line errors) unless
/// ADNN_FFMPEG_LOG is set in the environment. Also registers the capture devices (v4l2).
static inline void adnn_ff_init(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    const char *env = getenv("ADNN_FFMPEG_LOG");
    av_log_set_level(env && env[0] && strcmp(env, "0") != 0 ? AV_LOG_INFO : AV_LOG_QUIET);
    avdevice_register_all();
}

static inline void adnn_ff_error(char *message, const char *what, int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, buf, sizeof buf);
    snprintf(message, ADNN_FF_MESSAGE, "%s (%s)", what, buf);
}

/// The container format recognised from the first bytes of `path` (NULL when none is): tells a
/// truncated or damaged video from a file that is no video at all.
static inline const char *adnn_ff_probe_name(const char *path) {
    unsigned char *buf = (unsigned char *)calloc(1, 4096 + AVPROBE_PADDING_SIZE);
    if (!buf) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) { free(buf); return NULL; }
    size_t n = fread(buf, 1, 4096, f);
    fclose(f);
    AVProbeData pd = { path, buf, (int)n, NULL };
    int score = 0;
    const AVInputFormat *fmt = av_probe_input_format2(&pd, 1, &score);
    free(buf);
    if (!fmt || score < AVPROBE_SCORE_EXTENSION + 1 || strcmp(fmt->name, "tty") == 0) return NULL;
    return fmt->name;
}

/* ------------------------------------------------------------------------------------------- */
/* Decoding                                                                                     */
/* ------------------------------------------------------------------------------------------- */

/// An open video input: the best video stream of a file, URL or capture device, decoded frame by
/// frame to packed RGB24.
typedef struct adnn_video_reader {
    AVFormatContext *format;
    AVCodecContext *decoder;
    struct SwsContext *sws;
    AVPacket *packet;
    AVFrame *frame;
    int stream;
    int width, height;           /* of the last decoded frame (the stream's until the first one) */
    int fps_num, fps_den;        /* guessed frame rate (0/1 when unknown) */
    double time_base;            /* seconds per pts tick */
    int64_t start_pts;           /* stream start time in ticks (0 when unknown) */
    int64_t frame_estimate;      /* frames in the stream (0 when unknown, e.g. a camera) */
    int64_t last_pts;            /* pts of the last frame returned, INT64_MIN when none */
    int flushing;                /* end of input reached, decoder drained */
    int sws_w, sws_h, sws_fmt;
    char codec_name[64];
    char format_name[64];
    char message[ADNN_FF_MESSAGE];
} adnn_video_reader;

static inline void adnn_video_reader_free(adnn_video_reader *r) {
    if (!r) return;
    if (r->sws) sws_freeContext(r->sws);
    av_frame_free(&r->frame);
    av_packet_free(&r->packet);
    avcodec_free_context(&r->decoder);
    if (r->format) avformat_close_input(&r->format);
    free(r);
}

/// Opens `path`. `device_format` names a libavdevice input format ("v4l2" for /dev/videoN), or is
/// NULL to probe the file. `threads` is the decoder's thread count (0: FFmpeg's choice).
/// On failure returns NULL and writes the reason to `message` (ADNN_FF_MESSAGE bytes).
static inline adnn_video_reader *adnn_video_reader_open(const char *path, const char *device_format, int threads,
                                                        char *message) {
    adnn_ff_init();
    adnn_video_reader *r = (adnn_video_reader *)calloc(1, sizeof(adnn_video_reader));
    if (!r) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); return NULL; }
    r->last_pts = INT64_MIN;
    const AVInputFormat *input_format = NULL;
    if (device_format) {
        input_format = av_find_input_format(device_format);
        if (!input_format) {
            snprintf(message, ADNN_FF_MESSAGE, "this FFmpeg has no '%s' capture device support", device_format);
            free(r); return NULL;
        }
    }
    int err = avformat_open_input(&r->format, path, input_format, NULL);
    if (err < 0) {
        const char *name = err == AVERROR_INVALIDDATA && !device_format ? adnn_ff_probe_name(path) : NULL;
        if (name) {
            snprintf(message, ADNN_FF_MESSAGE, "truncated or damaged %s file", name);
        } else {
            adnn_ff_error(message, err == AVERROR_INVALIDDATA ? "not a video" : "cannot open", err);
        }
        r->format = NULL; adnn_video_reader_free(r); return NULL;
    }
    snprintf(r->format_name, sizeof r->format_name, "%s", r->format->iformat->name);
    /* The text/ANSI-art demuxer accepts any .txt file; it is not a video. */
    if (strcmp(r->format_name, "tty") == 0) {
        snprintf(message, ADNN_FF_MESSAGE, "not a video (text file)");
        adnn_video_reader_free(r); return NULL;
    }
    err = avformat_find_stream_info(r->format, NULL);
    if (err < 0) { adnn_ff_error(message, "cannot read the stream information", err); adnn_video_reader_free(r); return NULL; }
    const AVCodec *codec = NULL;
    err = av_find_best_stream(r->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (err == AVERROR_STREAM_NOT_FOUND) {
        snprintf(message, ADNN_FF_MESSAGE, "no video stream (format %s)", r->format_name);
        adnn_video_reader_free(r); return NULL;
    }
    if (err == AVERROR_DECODER_NOT_FOUND || (err >= 0 && !codec)) {
        int s = av_find_best_stream(r->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *name = s >= 0 ? avcodec_get_name(r->format->streams[s]->codecpar->codec_id) : "unknown";
        snprintf(message, ADNN_FF_MESSAGE, "unsupported video codec '%s' (no decoder in this FFmpeg)", name);
        adnn_video_reader_free(r); return NULL;
    }
    if (err < 0) { adnn_ff_error(message, "cannot select the video stream", err); adnn_video_reader_free(r); return NULL; }
    r->stream = err;
    AVStream *st = r->format->streams[r->stream];
    snprintf(r->codec_name, sizeof r->codec_name, "%s", codec->name);
    r->decoder = avcodec_alloc_context3(codec);
    if (!r->decoder) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); adnn_video_reader_free(r); return NULL; }
    err = avcodec_parameters_to_context(r->decoder, st->codecpar);
    if (err < 0) { adnn_ff_error(message, "bad codec parameters", err); adnn_video_reader_free(r); return NULL; }
    r->decoder->thread_count = threads;
    err = avcodec_open2(r->decoder, codec, NULL);
    if (err < 0) { adnn_ff_error(message, "cannot open the decoder", err); adnn_video_reader_free(r); return NULL; }
    r->packet = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->packet || !r->frame) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); adnn_video_reader_free(r); return NULL; }
    r->width = r->decoder->width;
    r->height = r->decoder->height;
    AVRational fps = av_guess_frame_rate(r->format, st, NULL);
    if (fps.num > 0 && fps.den > 0) { r->fps_num = fps.num; r->fps_den = fps.den; } else { r->fps_num = 0; r->fps_den = 1; }
    r->time_base = av_q2d(st->time_base);
    r->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    if (st->nb_frames > 0) {
        r->frame_estimate = st->nb_frames;
    } else if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && r->fps_num > 0) {
        r->frame_estimate = (int64_t)(st->duration * r->time_base * r->fps_num / r->fps_den + 0.5);
    } else if (r->format->duration != AV_NOPTS_VALUE && r->format->duration > 0 && r->fps_num > 0) {
        r->frame_estimate = (int64_t)((double)r->format->duration / AV_TIME_BASE * r->fps_num / r->fps_den + 0.5);
    }
    return r;
}

/// Converts the decoded frame to RGB24 into `out` (capacity `capacity` bytes); returns 1.
static inline int adnn_video_reader_convert(adnn_video_reader *r, uint8_t *out, size_t capacity) {
    AVFrame *f = r->frame;
    if (f->width <= 0 || f->height <= 0) { snprintf(r->message, ADNN_FF_MESSAGE, "decoded an empty frame"); return -1; }
    if ((size_t)f->width * (size_t)f->height * 3 > capacity) {
        snprintf(r->message, ADNN_FF_MESSAGE, "frame size changed to %dx%d", f->width, f->height);
        r->width = f->width; r->height = f->height;
        return -2;   /* caller grows the buffer and calls again */
    }
    if (!r->sws || r->sws_w != f->width || r->sws_h != f->height || r->sws_fmt != f->format) {
        r->sws = sws_getCachedContext(r->sws, f->width, f->height, (enum AVPixelFormat)f->format,
                                      f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
        if (!r->sws) { snprintf(r->message, ADNN_FF_MESSAGE, "cannot convert pixel format %d to RGB", f->format); return -1; }
        r->sws_w = f->width; r->sws_h = f->height; r->sws_fmt = f->format;
    }
    uint8_t *dst[4] = { out, NULL, NULL, NULL };
    int stride[4] = { 3 * f->width, 0, 0, 0 };
    sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    r->width = f->width; r->height = f->height;
    int64_t pts = f->best_effort_timestamp;
    r->last_pts = pts == AV_NOPTS_VALUE ? INT64_MIN : pts - r->start_pts;
    return 1;
}

/// Decodes the next frame into `out` as RGB24 (`width·height·3` bytes, rows top to bottom).
/// Returns 1 with a frame, 0 at the end of the stream, -2 when the frame does not fit `capacity`
/// (`width`/`height` then hold its size; call `adnn_video_reader_convert` with a larger buffer),
/// -1 on an error (truncated or corrupt data, a read error).
static inline int adnn_video_reader_next(adnn_video_reader *r, uint8_t *out, size_t capacity) {
    for (;;) {
        int err = avcodec_receive_frame(r->decoder, r->frame);
        if (err == 0) {
            int c = adnn_video_reader_convert(r, out, capacity);
            if (c != -2) av_frame_unref(r->frame);
            return c;
        }
        if (err == AVERROR_EOF) return 0;
        if (err != AVERROR(EAGAIN)) { adnn_ff_error(r->message, "cannot decode a frame", err); return -1; }
        if (r->flushing) return 0;
        err = av_read_frame(r->format, r->packet);
        if (err == AVERROR_EOF) {
            r->flushing = 1;
            err = avcodec_send_packet(r->decoder, NULL);
            if (err < 0 && err != AVERROR_EOF) { adnn_ff_error(r->message, "cannot flush the decoder", err); return -1; }
            continue;
        }
        if (err < 0) { adnn_ff_error(r->message, "truncated or unreadable data", err); return -1; }
        if (r->packet->stream_index == r->stream) {
            err = avcodec_send_packet(r->decoder, r->packet);
            av_packet_unref(r->packet);
            if (err < 0 && err != AVERROR(EAGAIN)) { adnn_ff_error(r->message, "corrupt video data", err); return -1; }
        } else {
            av_packet_unref(r->packet);
        }
    }
}

/// Seconds of the last returned frame from the stream start, or -1 when it had no timestamp.
static inline double adnn_video_reader_time(const adnn_video_reader *r) {
    return r->last_pts == INT64_MIN ? -1 : (double)r->last_pts * r->time_base;
}

/* ------------------------------------------------------------------------------------------- */
/* Encoding                                                                                     */
/* ------------------------------------------------------------------------------------------- */

/// An MP4 being written from RGB24 frames: H.264 through libx264 when this FFmpeg has it,
/// MPEG-4 part 2 otherwise; yuv420p, even dimensions (an odd last row/column is dropped).
typedef struct adnn_video_writer {
    AVFormatContext *format;
    AVCodecContext *encoder;
    AVStream *stream;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *packet;
    int in_width, in_height;
    int64_t next_pts;
    int header_written;
    int opened_io;
    char codec_name[64];
    char message[ADNN_FF_MESSAGE];
} adnn_video_writer;

static inline void adnn_video_writer_free(adnn_video_writer *w) {
    if (!w) return;
    if (w->sws) sws_freeContext(w->sws);
    av_frame_free(&w->frame);
    av_packet_free(&w->packet);
    avcodec_free_context(&w->encoder);
    if (w->format) {
        if (w->opened_io) avio_closep(&w->format->pb);
        avformat_free_context(w->format);
    }
    free(w);
}

/// Creates `path` (always MP4, whatever its extension) for `width`×`height` RGB frames at
/// `fps_num/fps_den` frames per second. `prefer_h264` 0 forces MPEG-4. `threads`: encoder threads
/// (0: FFmpeg's choice). On failure returns NULL with the reason in `message`.
static inline adnn_video_writer *adnn_video_writer_open(const char *path, int width, int height, int fps_num, int fps_den,
                                                        int prefer_h264, int threads, char *message) {
    adnn_ff_init();
    if (width < 2 || height < 2) { snprintf(message, ADNN_FF_MESSAGE, "frame size %dx%d too small", width, height); return NULL; }
    if (fps_num <= 0 || fps_den <= 0) { fps_num = 25; fps_den = 1; }
    adnn_video_writer *w = (adnn_video_writer *)calloc(1, sizeof(adnn_video_writer));
    if (!w) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); return NULL; }
    w->in_width = width; w->in_height = height;
    int err = avformat_alloc_output_context2(&w->format, NULL, "mp4", path);
    if (err < 0 || !w->format) { adnn_ff_error(message, "cannot create an MP4 muxer", err); w->format = NULL; adnn_video_writer_free(w); return NULL; }
    const AVCodec *codec = prefer_h264 ? avcodec_find_encoder_by_name("libx264") : NULL;
    int h264 = codec != NULL;
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) { snprintf(message, ADNN_FF_MESSAGE, "this FFmpeg has neither an H.264 nor an MPEG-4 encoder"); adnn_video_writer_free(w); return NULL; }
    snprintf(w->codec_name, sizeof w->codec_name, "%s", codec->name);
    w->stream = avformat_new_stream(w->format, NULL);
    w->encoder = avcodec_alloc_context3(codec);
    if (!w->stream || !w->encoder) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); adnn_video_writer_free(w); return NULL; }
    AVCodecContext *c = w->encoder;
    c->width = width & ~1;
    c->height = height & ~1;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){ fps_den, fps_num };
    c->framerate = (AVRational){ fps_num, fps_den };
    c->gop_size = 2 * (fps_num / fps_den > 0 ? fps_num / fps_den : 25);
    c->thread_count = threads;
    if (h264) {
        av_opt_set(c->priv_data, "preset", "veryfast", 0);
        av_opt_set(c->priv_data, "crf", "23", 0);
    } else {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 4;
        c->max_b_frames = 0;
    }
    if (w->format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    err = avcodec_open2(c, codec, NULL);
    if (err < 0) { adnn_ff_error(message, "cannot open the video encoder", err); adnn_video_writer_free(w); return NULL; }
    err = avcodec_parameters_from_context(w->stream->codecpar, c);
    if (err < 0) { adnn_ff_error(message, "cannot set the stream parameters", err); adnn_video_writer_free(w); return NULL; }
    w->stream->time_base = c->time_base;
    w->stream->avg_frame_rate = c->framerate;
    err = avio_open(&w->format->pb, path, AVIO_FLAG_WRITE);
    if (err < 0) { adnn_ff_error(message, "cannot create the file", err); adnn_video_writer_free(w); return NULL; }
    w->opened_io = 1;
    err = avformat_write_header(w->format, NULL);
    if (err < 0) { adnn_ff_error(message, "cannot write the MP4 header", err); adnn_video_writer_free(w); return NULL; }
    w->header_written = 1;
    w->frame = av_frame_alloc();
    w->packet = av_packet_alloc();
    if (!w->frame || !w->packet) { snprintf(message, ADNN_FF_MESSAGE, "out of memory"); adnn_video_writer_free(w); return NULL; }
    w->frame->format = c->pix_fmt; w->frame->width = c->width; w->frame->height = c->height;
    err = av_frame_get_buffer(w->frame, 0);
    if (err < 0) { adnn_ff_error(message, "cannot allocate a frame", err); adnn_video_writer_free(w); return NULL; }
    w->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, c->width, c->height, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR, NULL, NULL, NULL);
    if (!w->sws) { snprintf(message, ADNN_FF_MESSAGE, "cannot create the RGB to YUV converter"); adnn_video_writer_free(w); return NULL; }
    return w;
}

/// Sends `frame` (NULL to flush) and writes every packet the encoder returns.
static inline int adnn_video_writer_drain(adnn_video_writer *w, AVFrame *frame) {
    int err = avcodec_send_frame(w->encoder, frame);
    if (err < 0) { adnn_ff_error(w->message, "cannot encode a frame", err); return -1; }
    for (;;) {
        err = avcodec_receive_packet(w->encoder, w->packet);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) { adnn_ff_error(w->message, "cannot encode a frame", err); return -1; }
        av_packet_rescale_ts(w->packet, w->encoder->time_base, w->stream->time_base);
        w->packet->stream_index = w->stream->index;
        err = av_interleaved_write_frame(w->format, w->packet);
        av_packet_unref(w->packet);
        if (err < 0) { adnn_ff_error(w->message, "cannot write to the file", err); return -1; }
    }
}

/// Encodes one RGB24 frame of the size given at open (`width·height·3` bytes).
static inline int adnn_video_writer_write(adnn_video_writer *w, const uint8_t *rgb) {
    int err = av_frame_make_writable(w->frame);
    if (err < 0) { adnn_ff_error(w->message, "cannot allocate a frame", err); return -1; }
    const uint8_t *src[4] = { rgb, NULL, NULL, NULL };
    int stride[4] = { 3 * w->in_width, 0, 0, 0 };
    sws_scale(w->sws, src, stride, 0, w->in_height, w->frame->data, w->frame->linesize);
    w->frame->pts = w->next_pts++;
    return adnn_video_writer_drain(w, w->frame);
}

/// Flushes the encoder and writes the MP4 trailer; the file is complete after this returns 0.
static inline int adnn_video_writer_finish(adnn_video_writer *w) {
    if (adnn_video_writer_drain(w, NULL) < 0) return -1;
    int err = av_write_trailer(w->format);
    if (err < 0) { adnn_ff_error(w->message, "cannot write the MP4 trailer", err); return -1; }
    err = avio_closep(&w->format->pb);
    w->opened_io = 0;
    if (err < 0) { adnn_ff_error(w->message, "cannot close the file", err); return -1; }
    return 0;
}

/// Whether this FFmpeg can encode H.264 (libx264).
static inline int adnn_video_has_h264_encoder(void) { return avcodec_find_encoder_by_name("libx264") != NULL; }
