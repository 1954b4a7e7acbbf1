#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/*
 * Error-safe wrappers around libjpeg(-turbo) for ADNNData.
 *
 * libjpeg reports fatal errors through `error_exit`, which must not return. Swift cannot
 * longjmp, so every libjpeg call that can fail runs inside one of the C functions below:
 * each sets its own `setjmp` point, and our `error_exit` formats the message and longjmps
 * back to it. The functions return 0 on success and -1 on failure, with the message in
 * `adnn_jpeg_decoder.message`.
 */

typedef struct adnn_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;              /* set when libjpeg warns that the data ended early */
    char message[JMSG_LENGTH_MAX];
} adnn_jpeg_error;

static void adnn_jpeg_error_exit(j_common_ptr cinfo) {
    adnn_jpeg_error *err = (adnn_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void adnn_jpeg_emit_message(j_common_ptr cinfo, int level) {
    adnn_jpeg_error *err = (adnn_jpeg_error *)cinfo->err;
    if (level < 0) {
        err->pub.num_warnings++;
        if (err->pub.msg_code == JWRN_JPEG_EOF && !err->truncated) {
            err->truncated = 1;
            (*cinfo->err->format_message)(cinfo, err->message);
        }
    }
}

static void adnn_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/// A JPEG decoder over an in-memory file. Allocate with `adnn_jpeg_decoder_new`.
typedef struct adnn_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    adnn_jpeg_error err;
    int created;
    int cmyk;                   /* output is Adobe (inverted) CMYK, converted to RGB by us */
} adnn_jpeg_decoder;

static inline adnn_jpeg_decoder *adnn_jpeg_decoder_new(void) {
    adnn_jpeg_decoder *d = (adnn_jpeg_decoder *)calloc(1, sizeof(adnn_jpeg_decoder));
    return d;
}

static inline void adnn_jpeg_decoder_free(adnn_jpeg_decoder *d) {
    if (!d) return;
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d);
}

/// Reads the header of `data[0..<size]`; on success stores width, height and the number of
/// output channels (1 for grayscale, 3 for everything else).
static inline int adnn_jpeg_read_header(adnn_jpeg_decoder *d, const unsigned char *data, unsigned long size,
                                        int *width, int *height, int *channels) {
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = adnn_jpeg_error_exit;
    d->err.pub.emit_message = adnn_jpeg_emit_message;
    d->err.pub.output_message = adnn_jpeg_output_message;
    d->err.message[0] = 0;
    d->err.truncated = 0;
    if (setjmp(d->err.jump)) return -1;
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    jpeg_mem_src(&d->cinfo, data, size);
    jpeg_read_header(&d->cinfo, TRUE);
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        d->cinfo.out_color_space = JCS_GRAYSCALE; *channels = 1; break;
    case JCS_CMYK: case JCS_YCCK:
        d->cinfo.out_color_space = JCS_CMYK; d->cmyk = 1; *channels = 3; break;
    default:
        d->cinfo.out_color_space = JCS_RGB; *channels = 3; break;
    }
    d->cinfo.dct_method = JDCT_ISLOW;
    *width = (int)d->cinfo.image_width;
    *height = (int)d->cinfo.image_height;
    if (*width <= 0 || *height <= 0) {
        snprintf(d->err.message, sizeof d->err.message, "invalid image size %dx%d", *width, *height);
        return -1;
    }
    return 0;
}

/// Decodes the pixels into `out` (`width·height·channels` bytes, rows top to bottom).
/// Fails on a fatal libjpeg error and on data that ends before the last scan line.
static inline int adnn_jpeg_read_pixels(adnn_jpeg_decoder *d, unsigned char *out) {
    unsigned char *volatile row4 = NULL;
    if (setjmp(d->err.jump)) { free(row4); return -1; }
    jpeg_start_decompress(&d->cinfo);
    const unsigned int w = d->cinfo.output_width;
    const int comps = d->cinfo.output_components;
    if (d->cmyk) {
        row4 = (unsigned char *)malloc((size_t)w * 4);
        if (!row4) { snprintf(d->err.message, sizeof d->err.message, "out of memory"); return -1; }
    }
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
        unsigned char *dst = out + (size_t)d->cinfo.output_scanline * w * (d->cmyk ? 3 : (size_t)comps);
        if (d->cmyk) {
            JSAMPROW rp = row4;
            jpeg_read_scanlines(&d->cinfo, &rp, 1);
            /* Adobe writes inverted CMYK: R = C·K/255 with the stored (inverted) values. */
            for (unsigned int x = 0; x < w; x++) {
                unsigned int k = row4[4 * x + 3];
                dst[3 * x + 0] = (unsigned char)((row4[4 * x + 0] * k + 127) / 255);
                dst[3 * x + 1] = (unsigned char)((row4[4 * x + 1] * k + 127) / 255);
                dst[3 * x + 2] = (unsigned char)((row4[4 * x + 2] * k + 127) / 255);
            }
        } else {
            JSAMPROW rp = dst;
            jpeg_read_scanlines(&d->cinfo, &rp, 1);
        }
        if (d->err.truncated) break;
    }
    free(row4);
    row4 = NULL;
    if (d->err.truncated) {
        if (d->err.message[0] == 0) snprintf(d->err.message, sizeof d->err.message, "premature end of JPEG data");
        return -1;
    }
    jpeg_finish_decompress(&d->cinfo);
    if (d->err.truncated) return -1;
    return 0;
}

/// The message of the last failure.
static inline const char *adnn_jpeg_decoder_message(const adnn_jpeg_decoder *d) { return d->err.message; }

/// Encodes 8-bit gray (`channels` 1) or RGB (3) pixels as a baseline JPEG of the given quality.
/// On success `*outData` is a malloc'ed buffer of `*outSize` bytes that the caller frees with `free`.
static inline int adnn_jpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                                   unsigned char **outData, unsigned long *outSize, char *message, int messageLength) {
    struct jpeg_compress_struct cinfo;
    adnn_jpeg_error err;
    unsigned char *volatile buffer = NULL;   /* owned by the memory destination until success */
    unsigned long size = 0;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = adnn_jpeg_error_exit;
    err.pub.emit_message = adnn_jpeg_emit_message;
    err.pub.output_message = adnn_jpeg_output_message;
    err.message[0] = 0;
    err.truncated = 0;
    if (setjmp(err.jump)) {
        snprintf(message, (size_t)messageLength, "%s", err.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rp = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &rp, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *outData = buffer;
    *outSize = size;
    return 0;
}
