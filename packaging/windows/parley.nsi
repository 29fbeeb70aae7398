; Parley's Windows installer (NSIS 3). Per-user by default: no administrator rights, installed to
; %LOCALAPPDATA%\Programs\Parley, a Start-menu entry, an uninstaller registered under HKCU.
; Installing over an older version upgrades in place: the old program folder is removed first,
; so no stale file of the previous version stays (the user's data lives elsewhere, %LOCALAPPDATA%\Parley).
;
;   makensis -DVERSION=0.1.0 -DPAYLOAD=dist\pyinstaller\parley -DOUTFILE=dist\Parley-0.1.0-windows-x64.exe packaging\windows\parley.nsi
;
; PAYLOAD is the PyInstaller folder (Parley.exe, parley-cli.exe, _internal\). Signing: define
; SIGN_COMMAND (e.g. -DSIGN_COMMAND="signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /f cert.pfx /p %PFX_PASSWORD%")
; and the installer and the uninstaller are signed as they are written (packaging/SIGNING.md).

Unicode true
!include "MUI2.nsh"
!include "FileFunc.nsh"

!ifndef VERSION
  !error "define VERSION, e.g. -DVERSION=0.1.0"
!endif
!ifndef PAYLOAD
  !error "define PAYLOAD: the PyInstaller folder (dist\pyinstaller\parley)"
!endif
!ifndef OUTFILE
  !define OUTFILE "Parley-${VERSION}-windows-x64.exe"
!endif

!define APP "Parley"
!define PUBLISHER "The Parley developers"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define ROOT_DIR "${__FILEDIR__}\..\.."

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
RequestExecutionLevel user
SetCompressor /SOLID lzma
ManifestDPIAware true

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT licence"

!ifdef SIGN_COMMAND
  !finalize '${SIGN_COMMAND} "%1"' = 0
  !uninstfinalize '${SIGN_COMMAND} "%1"' = 0
!endif

!define MUI_ICON "${ROOT_DIR}\resources\icons\parley.ico"
!define MUI_UNICON "${ROOT_DIR}\resources\icons\parley.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\Parley.exe"
!insertmacro MUI_PAGE_LICENSE "${ROOT_DIR}\LICENSE"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Parley" SecMain
  SectionIn RO
  ; Upgrade in place: a running Parley holds its files open, so say so rather than half-replace.
  IfFileExists "$INSTDIR\_internal\*.*" 0 fresh
    ClearErrors
    FileOpen $0 "$INSTDIR\Parley.exe" a
    IfErrors 0 +3
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "Parley is running. Close it, then choose Retry." IDRETRY -3
      Abort
    FileClose $0
    RMDir /r "$INSTDIR\_internal"
    Delete "$INSTDIR\Parley.exe"
    Delete "$INSTDIR\parley-cli.exe"
  fresh:
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*.*"
  File "/oname=LICENSE.txt" "${ROOT_DIR}\LICENSE"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\Parley.exe" "" "$INSTDIR\Parley.exe" 0

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\Parley.exe"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APP}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\Parley.exe"
  Delete "$INSTDIR\parley-cli.exe"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
  ; Conversations and settings (%LOCALAPPDATA%\Parley) and keys (Windows Credential Manager) stay.
SectionEnd
