/** index.meta layout: a 16-byte tail checkpoint (a hint where a tail scan may start). */

export const INDEX_SIZE = 16;
export const INDEX_SEGMENT_OFF = 0;
export const INDEX_WRITE_OFFSET_OFF = 8;
