//! The generator as an ONNX model (IR version 8, opset 17), which onnxruntime and other ONNX
//! runtimes load: input `z` `[n, latent_dim]`, output `points` `[n, 2]`, one `Gemm` per layer
//! followed by its activation's operator, then `Mul` by the scale and `Add` of the shift. The
//! facts are the model's `metadata_props`.
//!
//! The protobuf is written here, field by field from the ONNX schema (`onnx/onnx.proto`; each
//! field's number is named beside it), rather than with a crate: the few messages a dense
//! network needs take a page, while a generated binding would bring a code generator and its
//! build-time compiler for them.

use super::Generator;
use crate::activation::Activation;

/// The ONNX IR version and default-domain opset the model declares.
const IR_VERSION: i64 = 8;
const OPSET: i64 = 17;
/// `TensorProto.DataType.FLOAT` and `AttributeProto.AttributeType` `FLOAT`, `INT`.
const FLOAT: i64 = 1;
const ATTRIBUTE_FLOAT: i64 = 1;
const ATTRIBUTE_INT: i64 = 2;

/// A protobuf message being written: its fields, in order, in the wire format.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(((field as u64) << 3) | wire_type as u64);
    }

    fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    fn float(mut self, field: u32, v: f32) -> Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    fn text(self, field: u32, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    fn message(self, field: u32, v: Message) -> Self {
        self.bytes(field, &v.0)
    }
}

/// A `TensorProto` of float32 `values` with `dims`: dims (1), data_type (2), name (8),
/// raw_data (9, little-endian).
fn tensor(name: &str, dims: &[usize], values: &[f32]) -> Message {
    let mut m = Message::default();
    for &d in dims {
        m = m.int(1, d as i64);
    }
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    m.int(2, FLOAT).text(8, name).bytes(9, &raw)
}

/// A `NodeProto`: input (1), output (2), name (3), op_type (4), attribute (5).
fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<Message>) -> Message {
    let mut m = Message::default();
    for input in inputs {
        m = m.text(1, input);
    }
    m = m.text(2, output).text(3, output).text(4, op);
    for attribute in attributes {
        m = m.message(5, attribute);
    }
    m
}

/// An `AttributeProto`: name (1), f (2), i (3), type (20).
fn attribute_float(name: &str, v: f32) -> Message {
    Message::default().text(1, name).float(2, v).int(20, ATTRIBUTE_FLOAT)
}

fn attribute_int(name: &str, v: i64) -> Message {
    Message::default().text(1, name).int(3, v).int(20, ATTRIBUTE_INT)
}

/// A `ValueInfoProto` (name 1, type 2) of a float32 matrix `[n, width]`: a `TypeProto` whose
/// tensor_type (1) has elem_type (1) and shape (2); each `Dimension` a dim_param (2) or a
/// dim_value (1).
fn matrix(name: &str, width: usize) -> Message {
    let shape = Message::default()
        .message(1, Message::default().text(2, "n"))
        .message(1, Message::default().int(1, width as i64));
    let tensor_type = Message::default().int(1, FLOAT).message(2, shape);
    Message::default().text(1, name).message(2, Message::default().message(1, tensor_type))
}

pub(super) fn encode(generator: &Generator) -> Vec<u8> {
    // GraphProto: node (1), name (2), initializer (5), doc_string (10), input (11), output (12).
    let mut graph = Message::default();
    let mut initializers = Vec::new();
    let mut value = "z".to_string();
    for (k, layer) in generator.layers.iter().enumerate() {
        let (weight, bias, gemm) =
            (format!("{}.weight", 2 * k), format!("{}.bias", 2 * k), format!("linear{k}"));
        initializers.push(tensor(&weight, &[layer.outputs, layer.inputs], &layer.weight));
        initializers.push(tensor(&bias, &[layer.outputs], &layer.bias));
        graph = graph
            .message(1, node("Gemm", &[&value, &weight, &bias], &gemm, vec![attribute_int("transB", 1)]));
        value = gemm;
        let activated = format!("activation{k}");
        let op = match layer.activation {
            Activation::Linear => continue,
            Activation::Relu => node("Relu", &[&value], &activated, vec![]),
            Activation::Tanh => node("Tanh", &[&value], &activated, vec![]),
            Activation::Elu => node("Elu", &[&value], &activated, vec![attribute_float("alpha", 1.0)]),
            Activation::LeakyRelu(slope) => {
                node("LeakyRelu", &[&value], &activated, vec![attribute_float("alpha", slope as f32)])
            }
        };
        graph = graph.message(1, op);
        value = activated;
    }
    initializers.push(tensor("scale", &[2], &generator.scale));
    initializers.push(tensor("shift", &[2], &generator.shift));
    graph = graph
        .message(1, node("Mul", &[&value, "scale"], "scaled", vec![]))
        .message(1, node("Add", &["scaled", "shift"], "points", vec![]))
        .text(2, "gan1d_generator");
    for initializer in initializers {
        graph = graph.message(5, initializer);
    }
    graph = graph
        .text(10, "latent points z [n, latent_dim] to points (x, y) on the data's axes")
        .message(11, matrix("z", generator.latent_dim))
        .message(12, matrix("points", 2));
    // ModelProto: ir_version (1), producer_name (2), producer_version (3), graph (7),
    // opset_import (8: domain 1, version 2), metadata_props (14: key 1, value 2).
    let mut model = Message::default()
        .int(1, IR_VERSION)
        .text(2, "gan1d")
        .text(3, env!("CARGO_PKG_VERSION"))
        .message(7, graph)
        .message(8, Message::default().text(1, "").int(2, OPSET));
    for (key, value) in generator.facts() {
        model = model.message(14, Message::default().text(1, &key).text(2, &value));
    }
    model.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_written_seven_bits_at_a_time_low_first() {
        let m = Message::default().int(1, 300);
        assert_eq!(m.0, [0x08, 0xac, 0x02]);
        let m = Message::default().int(2, -1);
        assert_eq!(m.0.len(), 11, "a negative int64 takes ten bytes after its key");
        let m = Message::default().text(4, "Gemm");
        assert_eq!(m.0, [0x22, 4, b'G', b'e', b'm', b'm']);
        let m = Message::default().float(2, 1.0);
        assert_eq!(m.0, [0x15, 0, 0, 0x80, 0x3f]);
    }
}
