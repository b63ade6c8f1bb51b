#include "core/resume_position.h"

#include "core/position.h"

namespace sluice {

Result<StreamPos> StreamPosAtResume(std::string_view resume_position) {
  if (resume_position.find('/') != std::string_view::npos) {
    ASSIGN_OR_RETURN(Lsn lsn, Lsn::Parse(resume_position));
    return StreamPos{lsn.ToString(), 0, 0};
  }
  ASSIGN_OR_RETURN(BinlogFilePos p, BinlogFilePos::Parse(resume_position));
  return StreamPos{p.file, p.offset, 0};
}

}  // namespace sluice
