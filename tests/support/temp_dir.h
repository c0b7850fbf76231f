// A fresh directory under $TEST_TMPDIR (or /tmp), removed with its contents
// when the object goes away.
#ifndef DATASNAP_TESTS_SUPPORT_TEMP_DIR_H_
#define DATASNAP_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace datasnap::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

// Writes `contents` to `path`, replacing it; aborts the test binary on
// failure (a broken test machine, not a test result).
void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);

}  // namespace datasnap::testing

#endif  // DATASNAP_TESTS_SUPPORT_TEMP_DIR_H_
