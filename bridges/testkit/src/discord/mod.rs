//! placeholder: filled by the discord work
