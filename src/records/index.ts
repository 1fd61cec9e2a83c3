/** Typed records: fixed-layout schemas with allocation-free encoders and flyweight views. */
export { defineRecord, isRecordType, RecordType } from "./record.ts";
export type { RecordSource } from "./flyweight.ts";
export type { FieldType, FieldSpec, FieldOptions, FieldLayout, RecordFields, ScalarType, StringType, ArrayType, NumberType, BigIntType } from "./layout.ts";
export type { RecordView, RecordEncoder, RecordValues, RecordObject, RecordArray, RecordArrayWriter, StringField } from "./types.ts";
