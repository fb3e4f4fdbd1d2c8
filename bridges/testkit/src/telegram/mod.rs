//! placeholder: filled by the telegram work
