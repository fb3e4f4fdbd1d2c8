//! placeholder: filled by the synapse work
