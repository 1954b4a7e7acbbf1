#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <png.h>

/*
 * Error-safe wrappers around libpng for ADNNData.
 *
 * libpng reports errors by longjmp-ing to `png_jmpbuf`. Swift cannot set a jump point, so
 * every libpng call that can fail runs inside one of the C functions below, each with its own
 * `setjmp`. They return 0 on success and -1 on failure with the message in `message`.
 *
 * Decoding normalises every PNG to 8-bit gray or 8-bit RGB: palettes are expanded, gray below
 * 8 bits is expanded, 16-bit samples are scaled to 8 bits (v·255/65535, rounded), and alpha is
 * dropped (like PIL's `convert("RGB")`).
 */

typedef struct adnn_png_reader {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[256];
} adnn_png_reader;

static void adnn_png_error(png_structp png, png_const_charp msg) {
    char *message = (char *)png_get_error_ptr(png);
    if (message) snprintf(message, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void adnn_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void adnn_png_read_data(png_structp png, png_bytep out, size_t length) {
    adnn_png_reader *r = (adnn_png_reader *)png_get_io_ptr(png);
    if (r->offset + length > r->size) png_error(png, "unexpected end of PNG data");
    memcpy(out, r->data + r->offset, length);
    r->offset += length;
}

static inline adnn_png_reader *adnn_png_reader_new(void) {
    return (adnn_png_reader *)calloc(1, sizeof(adnn_png_reader));
}

static inline void adnn_png_reader_free(adnn_png_reader *r) {
    if (!r) return;
    if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    free(r);
}

static inline const char *adnn_png_reader_message(const adnn_png_reader *r) { return r->message; }

/// Reads the header of `data[0..<size]` and sets up the conversion to 8-bit gray or RGB;
/// stores width, height and output channels (1 or 3).
static inline int adnn_png_read_header(adnn_png_reader *r, const unsigned char *data, size_t size,
                                       int *width, int *height, int *channels) {
    r->data = data; r->size = size; r->offset = 0; r->message[0] = 0;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r->message, adnn_png_error, adnn_png_warning);
    if (!r->png) { snprintf(r->message, sizeof r->message, "cannot create PNG reader"); return -1; }
    r->info = png_create_info_struct(r->png);
    if (!r->info) { snprintf(r->message, sizeof r->message, "cannot create PNG info"); return -1; }
    if (setjmp(png_jmpbuf(r->png))) return -1;
    png_set_read_fn(r->png, r, adnn_png_read_data);
    png_read_info(r->png, r->info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0;
    png_get_IHDR(r->png, r->info, &w, &h, &depth, &color, NULL, NULL, NULL);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (depth == 16) png_set_scale_16(r->png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    int outChannels = png_get_channels(r->png, r->info);
    if (outChannels != 1 && outChannels != 3) {
        snprintf(r->message, sizeof r->message, "unsupported PNG layout (%d channels)", outChannels);
        return -1;
    }
    if (w == 0 || h == 0 || w > 65535 || h > 65535) {
        snprintf(r->message, sizeof r->message, "invalid PNG size %ux%u", (unsigned)w, (unsigned)h);
        return -1;
    }
    if (png_get_rowbytes(r->png, r->info) != (size_t)w * (size_t)outChannels) {
        snprintf(r->message, sizeof r->message, "unsupported PNG layout (%zu bytes per row for %u pixels)",
                 (size_t)png_get_rowbytes(r->png, r->info), (unsigned)w);
        return -1;
    }
    *width = (int)w; *height = (int)h; *channels = outChannels;
    return 0;
}

/// Decodes the pixels into `out` (`width·height·channels` bytes).
static inline int adnn_png_read_pixels(adnn_png_reader *r, unsigned char *out) {
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(r->png))) { free(rows); return -1; }
    png_uint_32 h = png_get_image_height(r->png, r->info);
    size_t rowBytes = png_get_rowbytes(r->png, r->info);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!rows) { snprintf(r->message, sizeof r->message, "out of memory"); return -1; }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + (size_t)y * rowBytes;
    png_read_image(r->png, rows);
    png_read_end(r->png, NULL);
    free(rows);
    rows = NULL;
    return 0;
}

typedef struct adnn_png_sink {
    unsigned char *data;
    size_t size;
    size_t capacity;
} adnn_png_sink;

static void adnn_png_write_data(png_structp png, png_bytep bytes, size_t length) {
    adnn_png_sink *s = (adnn_png_sink *)png_get_io_ptr(png);
    if (s->size + length > s->capacity) {
        size_t cap = s->capacity ? s->capacity : 4096;
        while (cap < s->size + length) cap *= 2;
        unsigned char *grown = (unsigned char *)realloc(s->data, cap);
        if (!grown) png_error(png, "out of memory");
        s->data = grown; s->capacity = cap;
    }
    memcpy(s->data + s->size, bytes, length);
    s->size += length;
}

static void adnn_png_flush(png_structp png) { (void)png; }

/// Encodes 8-bit gray (1), RGB (3) or RGBA (4) pixels as PNG. On success `*outData` is a
/// malloc'ed buffer of `*outSize` bytes that the caller frees with `free`.
static inline int adnn_png_encode(const unsigned char *pixels, int width, int height, int channels,
                                  unsigned char **outData, size_t *outSize, char *message) {
    adnn_png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, adnn_png_error, adnn_png_warning);
    if (!png) { snprintf(message, 256, "cannot create PNG writer"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); snprintf(message, 256, "cannot create PNG info"); return -1; }
    adnn_png_sink *volatile sinkp = &sink;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sinkp->data);
        return -1;
    }
    png_set_write_fn(png, sinkp, adnn_png_write_data, adnn_png_flush);
    int color = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGB_ALPHA;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *outData = sinkp->data;
    *outSize = sinkp->size;
    return 0;
}
