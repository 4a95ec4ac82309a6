//! The bordermesh contracts: one module per protobuf package, generated at build time from
//! `proto/bordermesh/**/*.proto`, plus the encoded file descriptor set that servers publish
//! through reflection and that the CLI uses to read crossings written as JSON.
#![forbid(unsafe_code)]
#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// The encoded `google.protobuf.FileDescriptorSet` of every bordermesh package.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/bordermesh_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("bordermesh.common.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("bordermesh.identity.v1");
    }
}

pub mod customs {
    pub mod v1 {
        tonic::include_proto!("bordermesh.customs.v1");
    }
}

pub mod sanitary {
    pub mod v1 {
        tonic::include_proto!("bordermesh.sanitary.v1");
    }
}

pub mod crossing {
    pub mod v1 {
        tonic::include_proto!("bordermesh.crossing.v1");
    }
}
