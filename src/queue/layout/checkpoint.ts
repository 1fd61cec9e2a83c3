/** The checkpoint (index.meta): 16 bytes naming where a tail scan may start. A hint only. */

export const CHECKPOINT_SIZE = 16;
export const CHECKPOINT_SEGMENT_OFF = 0;
export const CHECKPOINT_WRITE_OFFSET_OFF = 8;
