//! The subset of the Eclipse Tahu Sparkplug B schema (`sparkplug_b.proto`) fleetop reads,
//! written as prost structs so no code generation runs at build time. Fields fleetop does
//! not use (metadata, extensions) are skipped by prost as unknown fields; nested property
//! sets are skipped too. Templates hold metrics, which may hold templates: prost's
//! recursion limit bounds how deep a payload may nest.

/// `Payload`: one Sparkplug message body.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Payload {
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
    #[prost(string, optional, tag = "4")]
    pub uuid: Option<String>,
}

/// `Payload.Metric`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    #[prost(message, optional, tag = "9")]
    pub properties: Option<PropertySet>,
    #[prost(oneof = "Value", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18")]
    pub value: Option<Value>,
}

/// `Payload.Metric.value` (extensions are not read).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    #[prost(uint32, tag = "10")]
    Int(u32),
    #[prost(uint64, tag = "11")]
    Long(u64),
    #[prost(float, tag = "12")]
    Float(f32),
    #[prost(double, tag = "13")]
    Double(f64),
    #[prost(bool, tag = "14")]
    Boolean(bool),
    #[prost(string, tag = "15")]
    String(String),
    #[prost(bytes = "vec", tag = "16")]
    Bytes(Vec<u8>),
    #[prost(message, tag = "17")]
    DataSet(DataSet),
    #[prost(message, tag = "18")]
    Template(Template),
}

/// `Payload.DataSet`: a table.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSet {
    #[prost(uint64, optional, tag = "1")]
    pub num_of_columns: Option<u64>,
    #[prost(string, repeated, tag = "2")]
    pub columns: Vec<String>,
    #[prost(uint32, repeated, tag = "3")]
    pub types: Vec<u32>,
    #[prost(message, repeated, tag = "4")]
    pub rows: Vec<Row>,
}

/// `Payload.DataSet.Row`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Row {
    #[prost(message, repeated, tag = "1")]
    pub elements: Vec<DataSetValue>,
}

/// `Payload.DataSet.DataSetValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSetValue {
    #[prost(oneof = "CellValue", tags = "1, 2, 3, 4, 5, 6")]
    pub value: Option<CellValue>,
}

/// `Payload.DataSet.DataSetValue.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum CellValue {
    #[prost(uint32, tag = "1")]
    Int(u32),
    #[prost(uint64, tag = "2")]
    Long(u64),
    #[prost(float, tag = "3")]
    Float(f32),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(bool, tag = "5")]
    Boolean(bool),
    #[prost(string, tag = "6")]
    String(String),
}

/// `Payload.Template`: a definition (in a birth) or an instance, made of metrics.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Template {
    #[prost(string, optional, tag = "1")]
    pub version: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    #[prost(string, optional, tag = "4")]
    pub template_ref: Option<String>,
    #[prost(bool, optional, tag = "5")]
    pub is_definition: Option<bool>,
}

/// `Payload.PropertySet`: where births carry a metric's unit (`engUnit`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertySet {
    #[prost(string, repeated, tag = "1")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "2")]
    pub values: Vec<PropertyValue>,
}

/// `Payload.PropertyValue` (nested property sets are not read).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyValue {
    #[prost(uint32, optional, tag = "1")]
    pub r#type: Option<u32>,
    #[prost(bool, optional, tag = "2")]
    pub is_null: Option<bool>,
    #[prost(oneof = "PropertyScalar", tags = "3, 4, 5, 6, 7, 8")]
    pub value: Option<PropertyScalar>,
}

/// `Payload.PropertyValue.value`, scalars only.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PropertyScalar {
    #[prost(uint32, tag = "3")]
    Int(u32),
    #[prost(uint64, tag = "4")]
    Long(u64),
    #[prost(float, tag = "5")]
    Float(f32),
    #[prost(double, tag = "6")]
    Double(f64),
    #[prost(bool, tag = "7")]
    Boolean(bool),
    #[prost(string, tag = "8")]
    String(String),
}

/// Sparkplug B datatype codes (`DataType` in the schema).
pub mod datatype {
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATASET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;

    /// The schema's name for a datatype code, as shown to people.
    pub fn name(code: u32) -> &'static str {
        match code {
            INT8 => "Int8",
            INT16 => "Int16",
            INT32 => "Int32",
            INT64 => "Int64",
            UINT8 => "UInt8",
            UINT16 => "UInt16",
            UINT32 => "UInt32",
            UINT64 => "UInt64",
            FLOAT => "Float",
            DOUBLE => "Double",
            BOOLEAN => "Boolean",
            STRING => "String",
            DATETIME => "DateTime",
            TEXT => "Text",
            UUID => "UUID",
            DATASET => "DataSet",
            BYTES => "Bytes",
            FILE => "File",
            TEMPLATE => "Template",
            20 => "PropertySet",
            21 => "PropertySetList",
            22 => "Int8Array",
            23 => "Int16Array",
            24 => "Int32Array",
            25 => "Int64Array",
            26 => "UInt8Array",
            27 => "UInt16Array",
            28 => "UInt32Array",
            29 => "UInt64Array",
            30 => "FloatArray",
            31 => "DoubleArray",
            32 => "BooleanArray",
            33 => "StringArray",
            34 => "DateTimeArray",
            _ => "Unknown",
        }
    }
}
